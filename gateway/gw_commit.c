/*
 * gw_commit.c - group commit.  Loop threads sign certificates at once but
 * do not record them: they hand each staged issuance (ca_issue_stage) to
 * one committer thread, which records everything queued in ONE store
 * transaction (one fsync for many certificates) and hands each item back
 * to its loop thread.  Only then does the handler answer the client, so no
 * certificate leaves before its record is durable.  While the committer
 * waits for the disk, the loop threads go on parsing, verifying and
 * signing; the next transaction takes whatever piled up meanwhile.
 *
 * Not here: what is recorded (ca_staged_record) or what the client gets
 * (the protocol's done callback).
 */
#include "gw_int.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include <event2/event.h>

struct gw_commit_item {
	struct gw_commit_item	*next;
	struct gw_thread	*th;		/* loop thread to answer on */
	struct gw_req		*req;		/* waiting for the record */
	struct ca_staged	*staged;	/* what to record */
	gw_commit_fn		*done;		/* the protocol's callback */
	void			*arg;		/* its argument */
};

/* ------------------------------------------------- committer thread */

/* Give recorded items back to their loop threads. */
static void
hand_back(struct gw_commit_item *list)
{
	struct gw_commit_item	*it, *next;
	struct gw_thread	*th;

	for (it = list; it != NULL; it = next) {
		next = it->next;
		th = it->th;
		pthread_mutex_lock(&th->done_mu);
		it->next = th->done;
		th->done = it;
		pthread_mutex_unlock(&th->done_mu);
		event_active(th->done_ev, EV_READ, 0);
	}
}

/* Record one batch (list of n items) with the committer's store. */
static void
record_batch(struct gw_committer *cm, struct gw_commit_item *list, size_t n)
{
	struct ca_staged	*v[GW_COMMIT_MAX];
	struct gw_commit_item	*it;
	size_t			 i = 0;

	for (it = list; it != NULL && i < n; it = it->next)
		v[i++] = it->staged;
	ca_staged_record(cm->st, v, i);
	cm->batches++;
	cm->items += i;
	if (i > cm->max_batch)
		cm->max_batch = i;
}

static void *
committer_main(void *arg)
{
	struct gw_committer	*cm = arg;
	struct gw_commit_item	*list, **tail;
	size_t			 n;

	pthread_mutex_lock(&cm->mu);
	for (;;) {
		while (cm->head == NULL && !cm->stop)
			pthread_cond_wait(&cm->cv, &cm->mu);
		/* Stop only once everything queued is recorded. */
		if (cm->head == NULL)
			break;
		list = cm->head;
		tail = &cm->head;
		for (n = 0; *tail != NULL && n < GW_COMMIT_MAX; n++)
			tail = &(*tail)->next;
		cm->head = *tail;
		*tail = NULL;
		if (cm->head == NULL)
			cm->tail = &cm->head;
		cm->nqueued -= n;
		pthread_mutex_unlock(&cm->mu);
		record_batch(cm, list, n);
		hand_back(list);
		gw_relay_kick(cm->srv);
		pthread_mutex_lock(&cm->mu);
	}
	pthread_mutex_unlock(&cm->mu);
	return NULL;
}

enum cg_code
gw_commit_init(struct gw_server *srv, struct cg_err *err)
{
	struct gw_committer	*cm = &srv->commit;

	cm->tail = &cm->head;
	cm->srv = srv;
	if (pthread_mutex_init(&cm->mu, NULL) != 0 ||
	    pthread_cond_init(&cm->cv, NULL) != 0)
		return cg_err_set(err, CG_ENOMEM, "cannot create the "
		    "committer's lock");
	cm->inited = true;
	/* Its own handle: SQLite connections are not shared by threads. */
	return ca_store_open(srv->boot->conf->store_path, &cm->st, err);
}

enum cg_code
gw_commit_start(struct gw_server *srv, struct cg_err *err)
{
	struct gw_committer	*cm = &srv->commit;
	sigset_t		 all, old;
	int			 e;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&cm->tid, NULL, committer_main, cm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		errno = e;
		return cg_err_errno(err, CG_EIO, "cannot start the committer");
	}
	cm->started = true;
	return CG_OK;
}

void
gw_commit_stop(struct gw_server *srv)
{
	struct gw_committer	*cm = &srv->commit;

	if (!cm->started)
		return;
	pthread_mutex_lock(&cm->mu);
	cm->stop = true;
	pthread_cond_signal(&cm->cv);
	pthread_mutex_unlock(&cm->mu);
	pthread_join(cm->tid, NULL);
	cm->started = false;
	if (cm->batches > 0)
		cg_log_info("event=group_commit transactions=%llu "
		    "certificates=%llu mean=%.1f max=%zu",
		    (unsigned long long)cm->batches,
		    (unsigned long long)cm->items,
		    (double)cm->items / (double)cm->batches, cm->max_batch);
}

void
gw_commit_cleanup(struct gw_server *srv)
{
	struct gw_committer	*cm = &srv->commit;

	gw_commit_stop(srv);
	ca_store_close(cm->st);
	cm->st = NULL;
	if (cm->inited) {
		pthread_cond_destroy(&cm->cv);
		pthread_mutex_destroy(&cm->mu);
		cm->inited = false;
	}
}

/* ------------------------------------------------------ loop threads */

static void
item_finish(struct gw_commit_item *it)
{
	it->th->ncommit--;
	it->done(it->req, it->arg, it->staged);
	ca_staged_free(it->staged);
	cg_free(it);
}

void
gw_commit_flush(struct gw_thread *th)
{
	struct gw_commit_item	*list, *it, *rev = NULL;

	pthread_mutex_lock(&th->done_mu);
	list = th->done;
	th->done = NULL;
	pthread_mutex_unlock(&th->done_mu);
	/* Answer in the order the committer handed them back. */
	while (list != NULL) {
		it = list;
		list = it->next;
		it->next = rev;
		rev = it;
	}
	while (rev != NULL) {
		it = rev;
		rev = it->next;
		item_finish(it);
	}
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	gw_commit_flush(arg);
}

enum cg_code
gw_commit_thread_init(struct gw_thread *th, struct cg_err *err)
{
	if (pthread_mutex_init(&th->done_mu, NULL) != 0)
		return cg_err_set(err, CG_ENOMEM, "cannot create a lock");
	th->done_inited = true;
	th->done_ev = event_new(th->base, -1, 0, done_cb, th);
	if (th->done_ev == NULL)
		return cg_err_set(err, CG_ENOMEM, "cannot create loop events");
	return CG_OK;
}

void
gw_commit_thread_cleanup(struct gw_thread *th)
{
	if (th->done_ev != NULL) {
		gw_commit_flush(th);
		event_free(th->done_ev);
		th->done_ev = NULL;
	}
	if (th->done_inited) {
		pthread_mutex_destroy(&th->done_mu);
		th->done_inited = false;
	}
}

void
gw_req_commit(struct gw_req *req, struct ca_staged *staged,
    gw_commit_fn *done, void *arg)
{
	struct gw_thread	*th = gw_req_thread(req);
	struct gw_committer	*cm = &th->srv->commit;
	struct gw_commit_item	*it;

	it = cg_calloc(1, sizeof(*it));
	if (it == NULL || !cm->started) {
		/* No committer to hand it to: record it here, alone. */
		cg_free(it);
		ca_staged_record(th->store, &staged, 1);
		done(req, arg, staged);
		ca_staged_free(staged);
		return;
	}
	it->th = th;
	it->req = req;
	it->staged = staged;
	it->done = done;
	it->arg = arg;
	th->ncommit++;
	pthread_mutex_lock(&cm->mu);
	*cm->tail = it;
	cm->tail = &it->next;
	cm->nqueued++;
	pthread_cond_signal(&cm->cv);
	pthread_mutex_unlock(&cm->mu);
}
