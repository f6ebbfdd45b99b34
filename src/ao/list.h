/*
 * list.h - a circular doubly linked list with the links inside the element.
 *
 * An element whose link points to itself is on no list; ao_list_del()
 * leaves it that way, so "is it linked?" is always answerable and deleting
 * twice is harmless.
 */
#ifndef CKPT_AO_LIST_H
#define CKPT_AO_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct ao_list {
	struct ao_list *prev, *next;
};

static inline void ao_list_init(struct ao_list *l)
{
	l->prev = l->next = l;
}

static inline bool ao_list_empty(const struct ao_list *head)
{
	return head->next == head;
}

/* True when the element is on some list. */
static inline bool ao_list_linked(const struct ao_list *n)
{
	return n->next != n;
}

static inline void ao_list_insert_before(struct ao_list *pos, struct ao_list *n)
{
	n->prev = pos->prev;
	n->next = pos;
	pos->prev->next = n;
	pos->prev = n;
}

static inline void ao_list_add_tail(struct ao_list *head, struct ao_list *n)
{
	ao_list_insert_before(head, n);
}

static inline void ao_list_del(struct ao_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	ao_list_init(n);
}

static inline struct ao_list *ao_list_first(const struct ao_list *head)
{
	return ao_list_empty(head) ? NULL : head->next;
}

static inline size_t ao_list_count(const struct ao_list *head)
{
	size_t n = 0;
	for (const struct ao_list *p = head->next; p != head; p = p->next)
		n++;
	return n;
}

/* Iterate; the body must not delete the current element. */
#define AO_LIST_FOR_EACH(pos, head) for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

#endif /* CKPT_AO_LIST_H */
