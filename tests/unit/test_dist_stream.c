/*
 * test_dist_stream.c - the worker's side of the Redis job stream against a
 * real redis-server that the test starts on a free loopback port: the
 * consumer group, reading jobs the way the relay writes them, delivered,
 * delayed and moved back, dead-lettered and requeued, claiming the jobs
 * of a dead consumer, the status counters, a blocking read that outlasts
 * the connection's timeout, and entries the relay could not have written.
 * Also the metrics: the latency histogram a delivery writes, the reader of
 * the stats hash and the quantile estimate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "certgw/dist_queue.h"
#include "ca_test.h"

#define T_PREFIX	"t:"
#define T_JOB1		"{\"v\":1,\"id\":\"01.idm.0\",\"rule\":\"idm\"," \
			"\"attempt\":0}"
#define T_JOB2		"{\"v\":1,\"id\":\"02.backup.0\",\"rule\":\"backup\"," \
			"\"attempt\":0}"

/* The redis-server every test shares; each test starts on an empty one. */
struct redis_srv {
	char		 dir[PATH_MAX];
	pid_t		 pid;
	uint16_t	 port;
};

struct fx {
	struct gw_redis_conf	 conf;
	struct dist_redis	*r;
	redisContext		*c;		/* r's, for checks */
};

static struct redis_srv	 srv;

/* ------------------------------------------------------------ helpers */

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A port nothing listens on now: bind port 0, read it, close. */
static uint16_t
free_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* PING answered PONG within the server's first 5 seconds. */
static bool
wait_ping(uint16_t port, pid_t pid)
{
	struct timeval	 tv = { 0, 200000 };
	redisContext	*c;
	redisReply	*rep;
	bool		 ok;
	int		 i, st;

	for (i = 0; i < 100; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
				fail_msg("redis-server not found: install "
				    "redis-server");
			return false;
		}
		c = redisConnectWithTimeout("127.0.0.1", port, tv);
		if (c != NULL && c->err == 0) {
			rep = redisCommand(c, "PING");
			ok = rep != NULL && rep->type == REDIS_REPLY_STATUS &&
			    strcmp(rep->str, "PONG") == 0;
			if (rep != NULL)
				freeReplyObject(rep);
			redisFree(c);
			if (ok)
				return true;
		} else if (c != NULL)
			redisFree(c);
		usleep(50000);
	}
	return false;
}

static int
group_setup(void **state)
{
	char	 port[8];
	int	 try;

	cafx_mkdtemp(srv.dir, sizeof(srv.dir), "dist-stream");
	/* The port may be taken between the probe and the bind: retry. */
	for (try = 0; try < 3; try++) {
		srv.port = free_port();
		snprintf(port, sizeof(port), "%u", (unsigned)srv.port);
		srv.pid = fork();
		assert_true(srv.pid >= 0);
		if (srv.pid == 0) {
			if (freopen("/dev/null", "w", stdout) == NULL)
				_exit(126);
			execlp("redis-server", "redis-server", "--port", port,
			    "--bind", "127.0.0.1", "--save", "",
			    "--appendonly", "no", "--dir", srv.dir,
			    "--daemonize", "no", (char *)NULL);
			_exit(127);
		}
		if (wait_ping(srv.port, srv.pid))
			return 0;
		kill(srv.pid, SIGTERM);
		waitpid(srv.pid, NULL, 0);
	}
	fail_msg("redis-server did not answer PING within 5 s");
	return -1;
}

static int
group_teardown(void **state)
{
	char		 p[PATH_MAX + 260];
	struct dirent	*de;
	DIR		*d;

	kill(srv.pid, SIGTERM);
	waitpid(srv.pid, NULL, 0);
	if ((d = opendir(srv.dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", srv.dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(srv.dir);
	return 0;
}

static void
die_err(const char *what, const struct cg_err *err)
{
	fail_msg("%s: %s (%s)", what, err->msg, err->detail);
}

static struct fx *
fx_open(uint32_t timeout_ms)
{
	struct cg_err	 err = { 0 };
	struct fx	*f;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->conf.enabled = true;
	f->conf.host = "127.0.0.1";
	f->conf.port = srv.port;
	f->conf.db = 0;
	f->conf.key_prefix = T_PREFIX;
	f->conf.timeout_ms = timeout_ms;
	if (dist_redis_connect(&f->conf, &f->r, &err) != CG_OK)
		die_err("connect", &err);
	f->c = dist_redis_hiredis(f->r);
	assert_non_null(f->c);
	return f;
}

static void
fx_close(struct fx *f)
{
	dist_redis_close(f->r);
	free(f);
}

/* Run a command on f's connection; the reply is the caller's. */
static redisReply *
cmd(struct fx *f, const char *fmt, ...)
{
	redisReply	*rep;
	va_list		 ap;

	va_start(ap, fmt);
	rep = redisvCommand(f->c, fmt, ap);
	va_end(ap);
	assert_non_null(rep);
	if (rep->type == REDIS_REPLY_ERROR)
		fail_msg("redis: %s", rep->str);
	return rep;
}

static long long
cmd_int(struct fx *f, const char *fmt, ...)
{
	redisReply	*rep;
	va_list		 ap;
	long long	 v;

	va_start(ap, fmt);
	rep = redisvCommand(f->c, fmt, ap);
	va_end(ap);
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
	v = rep->integer;
	freeReplyObject(rep);
	return v;
}

/* HGET t:stats field as a number; 0 when absent. */
static long long
stat_get(struct fx *f, const char *field)
{
	redisReply	*rep;
	long long	 v = 0;

	rep = cmd(f, "HGET " T_PREFIX "stats %s", field);
	if (rep->type == REDIS_REPLY_STRING)
		v = strtoll(rep->str, NULL, 10);
	else
		assert_int_equal(rep->type, REDIS_REPLY_NIL);
	freeReplyObject(rep);
	return v;
}

/* XADD a job the way the relay does (dist_relay_once). */
static void
relay_add(struct fx *f, const char *job, const char *rule, long outbox)
{
	freeReplyObject(cmd(f, "XADD " T_PREFIX "jobs * job %s rule %s "
	    "outbox %ld", job, rule, outbox));
}

static size_t
pending(struct fx *f)
{
	redisReply	*rep;
	size_t		 n;

	rep = cmd(f, "XPENDING " T_PREFIX "jobs workers");
	assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
	assert_true(rep->elements >= 1);
	n = (size_t)rep->element[0]->integer;
	freeReplyObject(rep);
	return n;
}

/* Read exactly want entries as consumer, not blocking. */
static struct dist_entry *
read_n(struct fx *f, const char *consumer, size_t max, size_t want)
{
	struct cg_err		 err = { 0 };
	struct dist_entry	*v = NULL;
	size_t			 n = 99;

	if (dist_stream_read(f->r, consumer, max, 0, &v, &n, &err) != CG_OK)
		die_err("read", &err);
	assert_non_null(v);
	assert_int_equal(n, want);
	return v;
}

static int
setup(void **state)
{
	struct cg_err	 err = { 0 };
	struct fx	*f;

	f = fx_open(2000);
	freeReplyObject(cmd(f, "FLUSHALL"));
	if (dist_stream_group_ensure(f->r, &err) != CG_OK)
		die_err("group", &err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx_close(*state);
	return 0;
}

/* -------------------------------------------------------------- tests */

static void
test_group_ensure(void **state)
{
	struct fx	*f = *state;
	struct cg_err	 err = { 0 };
	redisReply	*rep;

	/* setup made it once; again is fine, and still one group. */
	assert_int_equal(dist_stream_group_ensure(f->r, &err), CG_OK);
	assert_int_equal(dist_stream_group_ensure(f->r, &err), CG_OK);
	rep = cmd(f, "XINFO GROUPS " T_PREFIX "jobs");
	assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
	assert_int_equal(rep->elements, 1);
	freeReplyObject(rep);
	assert_int_equal(cmd_int(f, "XLEN " T_PREFIX "jobs"), 0);
}

static void
test_read(void **state)
{
	struct fx		*f = *state;
	struct dist_entry	*v;

	relay_add(f, T_JOB1, "idm", 1);
	relay_add(f, T_JOB2, "backup", 2);
	v = read_n(f, "w1", 10, 2);
	assert_string_equal(v[0].job, T_JOB1);
	assert_int_equal(v[0].len, strlen(T_JOB1));
	assert_string_equal(v[0].rule, "idm");
	assert_string_equal(v[1].job, T_JOB2);
	assert_string_equal(v[1].rule, "backup");
	assert_true(strchr(v[0].id, '-') != NULL);
	assert_string_not_equal(v[0].id, v[1].id);
	dist_entries_free(v, 2);
	/* Delivered once: a second read has nothing; both are pending. */
	dist_entries_free(read_n(f, "w1", 10, 0), 0);
	assert_int_equal(pending(f), 2);
	/* COUNT is honoured. */
	relay_add(f, T_JOB1, "idm", 3);
	relay_add(f, T_JOB1, "idm", 4);
	dist_entries_free(read_n(f, "w1", 1, 1), 1);
	dist_entries_free(read_n(f, "w1", 1, 1), 1);
}

static void
test_delivered(void **state)
{
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_entry	*v;

	relay_add(f, T_JOB1, "idm", 1);
	v = read_n(f, "w1", 10, 1);
	assert_int_equal(dist_stream_delivered(f->r, &v[0], &err), CG_OK);
	assert_int_equal(cmd_int(f, "XLEN " T_PREFIX "jobs"), 0);
	assert_int_equal(pending(f), 0);
	assert_int_equal(stat_get(f, "idm:delivered"), 1);
	assert_int_equal(stat_get(f, "idm:retried"), 0);
	dist_entries_free(v, 1);
}

/*
 * Many at once: one pipelined call settles each entry; an entry that is
 * not valid stops the call before anything is sent.
 */
static void
test_delivered_many(void **state)
{
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_entry	*v, bad;
	const struct dist_entry	*p[4];
	int			 i;

	relay_add(f, T_JOB1, "idm", 1);
	relay_add(f, T_JOB2, "backup", 2);
	relay_add(f, T_JOB1, "idm", 3);
	v = read_n(f, "w1", 10, 3);
	memset(&bad, 0, sizeof(bad));
	snprintf(bad.id, sizeof(bad.id), "+");
	bad.rule = "idm";
	bad.job = "x";
	p[0] = &v[0];
	p[1] = &bad;
	p[2] = &v[1];
	assert_int_equal(dist_stream_delivered_many(f->r, p, 3, &err),
	    CG_EINVAL);
	assert_int_equal(pending(f), 3);
	assert_int_equal(cmd_int(f, "XLEN " T_PREFIX "jobs"), 3);
	for (i = 0; i < 3; i++)
		p[i] = &v[i];
	cg_err_clear(&err);
	assert_int_equal(dist_stream_delivered_many(f->r, p, 3, &err), CG_OK);
	assert_int_equal(cmd_int(f, "XLEN " T_PREFIX "jobs"), 0);
	assert_int_equal(pending(f), 0);
	assert_int_equal(stat_get(f, "idm:delivered"), 2);
	assert_int_equal(stat_get(f, "backup:delivered"), 1);
	/* The connection is in step: the next command reads its own reply. */
	assert_int_equal(dist_stream_delivered_many(f->r, p, 0, &err), CG_OK);
	relay_add(f, T_JOB2, "idm", 4);
	dist_entries_free(read_n(f, "w1", 10, 1), 1);
	dist_entries_free(v, 3);
}

static void
test_delay_due(void **state)
{
	const char		*next = "{\"v\":1,\"id\":\"01.idm.0\","
				    "\"rule\":\"idm\",\"attempt\":1}";
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_entry	*v;
	uint64_t		 now = now_ms();
	size_t			 moved = 99;

	relay_add(f, T_JOB1, "idm", 1);
	v = read_n(f, "w1", 10, 1);
	assert_int_equal(dist_stream_delay(f->r, &v[0], next, now - 1000,
	    &err), CG_OK);
	dist_entries_free(v, 1);
	assert_int_equal(cmd_int(f, "XLEN " T_PREFIX "jobs"), 0);
	assert_int_equal(pending(f), 0);
	assert_int_equal(cmd_int(f, "ZCARD " T_PREFIX "delayed"), 1);
	assert_int_equal(stat_get(f, "idm:retried"), 1);

	assert_int_equal(dist_delayed_move_due(f->r, now, 10, &moved, &err),
	    CG_OK);
	assert_int_equal(moved, 1);
	assert_int_equal(cmd_int(f, "ZCARD " T_PREFIX "delayed"), 0);
	v = read_n(f, "w2", 10, 1);
	assert_string_equal(v[0].job, next);
	assert_string_equal(v[0].rule, "idm");	/* read from the JSON */
	dist_entries_free(v, 1);
	/* Nothing left to move. */
	assert_int_equal(dist_delayed_move_due(f->r, now, 10, &moved, &err),
	    CG_OK);
	assert_int_equal(moved, 0);
}

static void
test_delay_future(void **state)
{
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_entry	*v;
	uint64_t		 now = now_ms();
	size_t			 moved = 99;

	relay_add(f, T_JOB1, "idm", 1);
	v = read_n(f, "w1", 10, 1);
	assert_int_equal(dist_stream_delay(f->r, &v[0], T_JOB2,
	    now + 60000, &err), CG_OK);
	dist_entries_free(v, 1);
	assert_int_equal(dist_delayed_move_due(f->r, now, 10, &moved, &err),
	    CG_OK);
	assert_int_equal(moved, 0);
	assert_int_equal(cmd_int(f, "ZCARD " T_PREFIX "delayed"), 1);
	assert_int_equal(cmd_int(f, "XLEN " T_PREFIX "jobs"), 0);
	/* Once it is due, it moves. */
	assert_int_equal(dist_delayed_move_due(f->r, now + 60000, 10, &moved,
	    &err), CG_OK);
	assert_int_equal(moved, 1);
	v = read_n(f, "w1", 10, 1);
	assert_string_equal(v[0].rule, "backup");
	dist_entries_free(v, 1);
}

/* max bounds one move; a member that is not JSON moves with rule "". */
static void
test_delay_move_bounds(void **state)
{
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_entry	*v;
	size_t			 moved = 99;

	freeReplyObject(cmd(f, "ZADD " T_PREFIX "delayed 1 a 2 not-json 3 c"));
	assert_int_equal(dist_delayed_move_due(f->r, 2, 10, &moved, &err),
	    CG_OK);
	assert_int_equal(moved, 2);
	freeReplyObject(cmd(f, "ZADD " T_PREFIX "delayed 1 d 1 e"));
	assert_int_equal(dist_delayed_move_due(f->r, 100, 2, &moved, &err),
	    CG_OK);
	assert_int_equal(moved, 2);
	assert_int_equal(cmd_int(f, "ZCARD " T_PREFIX "delayed"), 1);
	v = read_n(f, "w1", 10, 4);
	assert_string_equal(v[0].job, "a");	/* oldest due first */
	assert_string_equal(v[1].job, "not-json");
	assert_string_equal(v[1].rule, "");
	dist_entries_free(v, 4);
	assert_int_equal(dist_delayed_move_due(f->r, 100, 0, &moved, &err),
	    CG_EINVAL);
	assert_int_equal(dist_delayed_move_due(f->r, 100, DIST_BATCH_MAX + 1,
	    &moved, &err), CG_EINVAL);
}

static void
test_dead_requeue(void **state)
{
	const char		*fresh = "{\"v\":1,\"rule\":\"idm\","
				    "\"attempt\":0,\"again\":1}";
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_entry	*v, *d;
	redisReply		*rep;
	char			 id[64];
	size_t			 n = 99;

	relay_add(f, T_JOB1, "idm", 1);
	v = read_n(f, "w1", 10, 1);
	assert_int_equal(dist_stream_dead(f->r, &v[0], T_JOB1,
	    "HTTP 400: bad request", &err), CG_OK);
	dist_entries_free(v, 1);
	assert_int_equal(cmd_int(f, "XLEN " T_PREFIX "jobs"), 0);
	assert_int_equal(pending(f), 0);
	assert_int_equal(cmd_int(f, "XLEN " T_PREFIX "dead"), 1);
	assert_int_equal(stat_get(f, "idm:dead"), 1);
	/* The fields, as written. */
	rep = cmd(f, "XRANGE " T_PREFIX "dead - +");
	assert_int_equal(rep->elements, 1);
	assert_int_equal(rep->element[0]->element[1]->elements, 8);
	assert_string_equal(rep->element[0]->element[1]->element[4]->str,
	    "reason");
	assert_string_equal(rep->element[0]->element[1]->element[5]->str,
	    "HTTP 400: bad request");
	assert_string_equal(rep->element[0]->element[1]->element[6]->str,
	    "time");
	assert_true(strtoll(rep->element[0]->element[1]->element[7]->str,
	    NULL, 10) >= cg_now() - 60);
	freeReplyObject(rep);

	assert_int_equal(dist_dead_list(f->r, 10, &d, &n, &err), CG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].job, T_JOB1);
	assert_string_equal(d[0].rule, "idm");
	snprintf(id, sizeof(id), "%s", d[0].id);
	dist_entries_free(d, n);

	assert_int_equal(dist_dead_requeue(f->r, id, fresh, &err), CG_OK);
	assert_int_equal(cmd_int(f, "XLEN " T_PREFIX "dead"), 0);
	assert_int_equal(cmd_int(f, "XLEN " T_PREFIX "jobs"), 1);
	v = read_n(f, "w1", 10, 1);
	assert_string_equal(v[0].job, fresh);
	assert_string_equal(v[0].rule, "idm");
	dist_entries_free(v, 1);
	assert_int_equal(dist_dead_list(f->r, 10, &d, &n, &err), CG_OK);
	assert_int_equal(n, 0);
	dist_entries_free(d, n);

	/* Gone now; ranges and junk are not ids. */
	assert_int_equal(dist_dead_requeue(f->r, id, fresh, &err),
	    CG_ENOTFOUND);
	assert_int_equal(dist_dead_requeue(f->r, "-", fresh, &err),
	    CG_EINVAL);
	assert_int_equal(dist_dead_requeue(f->r, "1-2-3", fresh, &err),
	    CG_EINVAL);
	assert_int_equal(dist_dead_requeue(f->r, "1-0", "", &err),
	    CG_EINVAL);
	assert_int_equal(cmd_int(f, "XLEN " T_PREFIX "jobs"), 1);
}

/* A long reason is cut, not refused. */
static void
test_dead_long_reason(void **state)
{
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_entry	*v;
	redisReply		*rep;
	char			 reason[2000];

	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	relay_add(f, T_JOB1, "idm", 1);
	v = read_n(f, "w1", 10, 1);
	assert_int_equal(dist_stream_dead(f->r, &v[0], T_JOB1, reason, &err),
	    CG_OK);
	dist_entries_free(v, 1);
	rep = cmd(f, "XRANGE " T_PREFIX "dead - +");
	assert_int_equal(rep->element[0]->element[1]->element[5]->len, 512);
	freeReplyObject(rep);
}

static void
test_claim(void **state)
{
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_entry	*a, *b;
	redisReply		*rep;
	size_t			 n = 99;

	relay_add(f, T_JOB1, "idm", 1);
	a = read_n(f, "worker-a", 10, 1);	/* and then A dies */
	/* Not idle long enough yet: nothing to claim. */
	assert_int_equal(dist_stream_claim(f->r, "worker-b", 600000, 10, &b,
	    &n, &err), CG_OK);
	assert_int_equal(n, 0);
	dist_entries_free(b, n);
	assert_int_equal(dist_stream_claim(f->r, "worker-b", 0, 10, &b, &n,
	    &err), CG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(b[0].id, a[0].id);
	assert_string_equal(b[0].job, T_JOB1);
	assert_string_equal(b[0].rule, "idm");
	/* The pending entry is B's now. */
	rep = cmd(f, "XPENDING " T_PREFIX "jobs workers - + 10");
	assert_int_equal(rep->elements, 1);
	assert_string_equal(rep->element[0]->element[1]->str, "worker-b");
	freeReplyObject(rep);
	assert_int_equal(dist_stream_delivered(f->r, &b[0], &err), CG_OK);
	assert_int_equal(pending(f), 0);
	dist_entries_free(a, 1);
	dist_entries_free(b, n);
}

/* An entry deleted while pending is skipped by a claim, not returned. */
static void
test_claim_deleted(void **state)
{
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_entry	*a, *b;
	size_t			 n = 99;

	relay_add(f, T_JOB1, "idm", 1);
	relay_add(f, T_JOB2, "backup", 2);
	a = read_n(f, "worker-a", 10, 2);
	freeReplyObject(cmd(f, "XDEL " T_PREFIX "jobs %s", a[0].id));
	assert_int_equal(dist_stream_claim(f->r, "worker-b", 0, 10, &b, &n,
	    &err), CG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(b[0].id, a[1].id);
	dist_entries_free(a, 2);
	dist_entries_free(b, n);
}

static void
test_stats(void **state)
{
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_queue_stats	 st;
	struct dist_entry	*v;
	uint64_t		 now = now_ms();

	/* No stream and no group yet: all zero, not an error. */
	freeReplyObject(cmd(f, "FLUSHALL"));
	memset(&st, 0xff, sizeof(st));
	assert_int_equal(dist_queue_stats(f->r, now, &st, &err), CG_OK);
	assert_int_equal(st.jobs, 0);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.delayed, 0);
	assert_int_equal(st.dead, 0);
	assert_int_equal(st.oldest_ms, 0);
	assert_int_equal(dist_stream_group_ensure(f->r, &err), CG_OK);

	/* One job relayed 5 s ago, then two more. */
	freeReplyObject(cmd(f, "XADD " T_PREFIX "jobs %llu-0 job %s rule idm",
	    (unsigned long long)(now - 5000), T_JOB1));
	relay_add(f, T_JOB1, "idm", 2);
	relay_add(f, T_JOB2, "backup", 3);
	v = read_n(f, "w1", 2, 2);		/* the old one and the 2nd */
	assert_int_equal(dist_queue_stats(f->r, now, &st, &err), CG_OK);
	assert_int_equal(st.jobs, 3);
	assert_int_equal(st.pending, 2);
	assert_int_equal(st.oldest_ms, 5000);
	assert_int_equal(dist_stream_delay(f->r, &v[1], T_JOB1, now + 60000,
	    &err), CG_OK);
	dist_entries_free(v, 2);
	v = read_n(f, "w1", 2, 1);
	assert_int_equal(dist_stream_dead(f->r, &v[0], v[0].job, "gone",
	    &err), CG_OK);
	dist_entries_free(v, 1);
	assert_int_equal(dist_queue_stats(f->r, now, &st, &err), CG_OK);
	assert_int_equal(st.jobs, 1);
	assert_int_equal(st.pending, 1);
	assert_int_equal(st.delayed, 1);
	assert_int_equal(st.dead, 1);
	assert_int_equal(st.oldest_ms, 5000);
	/* A clock behind the stream does not make a huge age. */
	assert_int_equal(dist_queue_stats(f->r, now - 10000, &st, &err),
	    CG_OK);
	assert_int_equal(st.oldest_ms, 0);
}

static void
test_block_timeout(void **state)
{
	struct fx		*f = *state, *g;
	struct cg_err		 err = { 0 };
	struct dist_entry	*v = NULL;
	struct timeval		 tv;
	socklen_t		 len = sizeof(tv);
	uint64_t		 t0, dt;
	size_t			 n = 99;

	t0 = cg_mono_ms();
	assert_int_equal(dist_stream_read(f->r, "w1", 10, 100, &v, &n, &err),
	    CG_OK);
	dt = cg_mono_ms() - t0;
	assert_non_null(v);
	assert_int_equal(n, 0);
	dist_entries_free(v, n);
	assert_true(dt >= 90 && dt < 1000);

	/*
	 * A BLOCK longer than the connection's 300 ms timeout still ends
	 * as "nothing", and the connection stays usable (and its timeout
	 * is back: a later plain command is not affected).
	 */
	g = fx_open(300);
	t0 = cg_mono_ms();
	assert_int_equal(dist_stream_read(g->r, "w1", 10, 700, &v, &n, &err),
	    CG_OK);
	dt = cg_mono_ms() - t0;
	assert_int_equal(n, 0);
	dist_entries_free(v, n);
	assert_true(dt >= 650 && dt < 2000);
	assert_int_equal(getsockopt(g->c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    &len), 0);
	assert_int_equal(tv.tv_sec, 0);
	assert_int_equal(tv.tv_usec, 300000);
	relay_add(g, T_JOB1, "idm", 1);
	v = read_n(g, "w1", 10, 1);
	dist_entries_free(v, 1);
	fx_close(g);
}

/*
 * Entries the relay could not have written are neither returned nor left
 * to come back forever: they go to the dead stream with a reason, and the
 * good entries around them are read as usual.
 */
static void
test_malformed(void **state)
{
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_entry	*v, *d;
	redisReply		*rep;
	char			*big;
	size_t			 n = 99, len = CA_STORE_PAYLOAD_MAX + 1;

	freeReplyObject(cmd(f, "XADD " T_PREFIX "jobs * rule idm outbox 1"));
	relay_add(f, T_JOB1, "idm", 2);
	big = malloc(len + 1);
	assert_non_null(big);
	memset(big, 'j', len);
	big[len] = '\0';
	freeReplyObject(cmd(f, "XADD " T_PREFIX "jobs * job %s rule idm",
	    big));
	free(big);
	freeReplyObject(cmd(f, "XADD " T_PREFIX "jobs * job %s", T_JOB2));
	freeReplyObject(cmd(f, "XADD " T_PREFIX "jobs * job %b rule idm",
	    "a\0b", (size_t)3));

	v = read_n(f, "w1", 10, 1);
	assert_string_equal(v[0].job, T_JOB1);
	assert_int_equal(cmd_int(f, "XLEN " T_PREFIX "jobs"), 1);
	assert_int_equal(pending(f), 1);
	dist_entries_free(v, 1);

	assert_int_equal(dist_dead_list(f->r, 10, &d, &n, &err), CG_OK);
	assert_int_equal(n, 4);
	assert_string_equal(d[0].job, "");
	assert_string_equal(d[0].rule, "idm");
	assert_string_equal(d[1].job, "");	/* too large to keep */
	assert_string_equal(d[2].job, T_JOB2);	/* kept, rule unknown */
	assert_string_equal(d[2].rule, "");
	dist_entries_free(d, n);
	rep = cmd(f, "XRANGE " T_PREFIX "dead - + COUNT 1");
	assert_string_equal(rep->element[0]->element[1]->element[5]->str,
	    "malformed entry: no job field");
	freeReplyObject(rep);
	/* Nothing comes back on a claim either. */
	assert_int_equal(dist_stream_claim(f->r, "w2", 0, 10, &d, &n, &err),
	    CG_OK);
	assert_int_equal(n, 1);
	dist_entries_free(d, n);
}

static void
test_bad_args(void **state)
{
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_entry	*v = NULL, e;
	size_t			 n;

	assert_int_equal(dist_stream_read(f->r, "w1", 0, 0, &v, &n, &err),
	    CG_EINVAL);
	assert_int_equal(dist_stream_read(f->r, "w1", DIST_BATCH_MAX + 1, 0,
	    &v, &n, &err), CG_EINVAL);
	assert_int_equal(dist_stream_read(f->r, "", 1, 0, &v, &n, &err),
	    CG_EINVAL);
	assert_int_equal(dist_stream_read(f->r, "w 1", 1, 0, &v, &n, &err),
	    CG_EINVAL);
	assert_int_equal(dist_stream_read(f->r, "w1", 1,
	    DIST_BLOCK_MAX_MS + 1, &v, &n, &err), CG_EINVAL);
	assert_null(v);
	assert_int_equal(dist_stream_claim(f->r, "w1", 0, 0, &v, &n, &err),
	    CG_EINVAL);
	assert_int_equal(dist_dead_list(f->r, 0, &v, &n, &err), CG_EINVAL);

	memset(&e, 0, sizeof(e));
	snprintf(e.id, sizeof(e.id), "+");
	e.rule = "idm";
	e.job = "x";
	assert_int_equal(dist_stream_delivered(f->r, &e, &err), CG_EINVAL);
	snprintf(e.id, sizeof(e.id), "1-0");
	e.rule = NULL;
	assert_int_equal(dist_stream_delivered(f->r, &e, &err), CG_EINVAL);
	e.rule = "idm";
	assert_int_equal(dist_stream_delay(f->r, &e, "", 1, &err),
	    CG_EINVAL);
	/* Acknowledging an id that is not pending is harmless. */
	assert_int_equal(dist_stream_delivered(f->r, &e, &err), CG_OK);
}

/* Redis errors are CG_EIO with the reason; a missing group is one. */
static void
test_redis_errors(void **state)
{
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_entry	*v = NULL;
	size_t			 n;

	freeReplyObject(cmd(f, "XGROUP DESTROY " T_PREFIX "jobs workers"));
	assert_int_equal(dist_stream_read(f->r, "w1", 1, 0, &v, &n, &err),
	    CG_EIO);
	assert_null(v);
	assert_non_null(strstr(err.msg, "redis: cannot read jobs: NOGROUP"));
	/* The wrong type under a key. */
	freeReplyObject(cmd(f, "SET " T_PREFIX "delayed x"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(dist_delayed_move_due(f->r, 1, 1, &n, &err), CG_EIO);
	assert_non_null(strstr(err.msg, "redis: cannot move delayed jobs"));
	/* The connection is still in step. */
	assert_int_equal(cmd_int(f, "XLEN " T_PREFIX "jobs"), 0);
}

/* ------------------------------------------------------------ metrics */

/* Deliver an entry whose id says it entered the stream at ms. */
static void
deliver_at(struct fx *f, uint64_t ms, const char *rule)
{
	struct cg_err		 err = { 0 };
	struct dist_entry	*v;

	freeReplyObject(cmd(f, "XADD " T_PREFIX "jobs %llu-0 job %s rule %s",
	    (unsigned long long)ms, T_JOB1, rule));
	v = read_n(f, "w1", 10, 1);
	if (dist_stream_delivered(f->r, &v[0], &err) != CG_OK)
		die_err("delivered", &err);
	dist_entries_free(v, 1);
}

/* How many fields of t:stats start with prefix. */
static size_t
stat_fields(struct fx *f, const char *prefix)
{
	redisReply	*rep;
	size_t		 i, n = 0;

	rep = cmd(f, "HKEYS " T_PREFIX "stats");
	assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
	for (i = 0; i < rep->elements; i++)
		if (strncmp(rep->element[i]->str, prefix, strlen(prefix)) == 0)
			n++;
	freeReplyObject(rep);
	return n;
}

static void
test_latency_written(void **state)
{
	struct fx		*f = *state;
	struct cg_err		 err = { 0 };
	struct dist_metrics	*m;
	uint64_t		 t0, dt;
	long long		 sum;
	const long long		 cap = 30LL * 24 * 3600 * 1000;

	/* Stream ids only grow: the oldest entries go first. */

	/* A hand-made id from 1970: inf, the sum capped at 30 days. */
	deliver_at(f, 1, "old");
	assert_int_equal(stat_get(f, "old:latency_le_inf"), 1);
	assert_int_equal(stat_get(f, "old:latency_sum_ms"), cap);

	/* Over a minute: the unbounded bucket. */
	t0 = now_ms();
	deliver_at(f, t0 - 90000, "idm.v2");
	dt = now_ms() - t0;
	assert_int_equal(stat_get(f, "idm.v2:latency_le_inf"), 1);
	sum = stat_get(f, "idm.v2:latency_sum_ms");
	assert_true(sum >= 90000 && (uint64_t)sum <= 90000 + dt);

	/* Entered 3 s ago: 2.5 s < latency <= 5 s. */
	t0 = now_ms();
	deliver_at(f, t0 - 3000, "idm.v2");
	dt = now_ms() - t0;
	assert_true(dt < 2000);
	assert_int_equal(stat_get(f, "idm.v2:delivered"), 2);
	assert_int_equal(stat_get(f, "idm.v2:latency_le_5000"), 1);
	assert_true(stat_get(f, "idm.v2:latency_sum_ms") >= sum + 3000);
	assert_true((uint64_t)stat_get(f, "idm.v2:latency_sum_ms") <=
	    (uint64_t)sum + 3000 + dt);
	sum = stat_get(f, "idm.v2:latency_sum_ms");
	/* delivered, two buckets and the sum: nothing else. */
	assert_int_equal(stat_fields(f, "idm.v2:"), 4);
	assert_int_equal(stat_fields(f, "idm.v2:latency_le_"), 2);

	/* 120 ms: le_250, not le_100. */
	deliver_at(f, now_ms() - 120, "b_2");
	assert_int_equal(stat_get(f, "b_2:latency_le_250"), 1);
	assert_int_equal(stat_get(f, "b_2:latency_le_100"), 0);
	assert_int_equal(stat_get(f, "b_2:delivered"), 1);

	/*
	 * Entered 60 s in the future by Redis' clock (a worker behind it):
	 * counted as 0, in the first bucket, adding nothing to the sum.
	 */
	deliver_at(f, now_ms() + 60000, "idm.v2");
	assert_int_equal(stat_get(f, "idm.v2:latency_le_5"), 1);
	assert_int_equal(stat_get(f, "idm.v2:latency_sum_ms"), sum);
	assert_int_equal(stat_get(f, "idm.v2:delivered"), 3);

	/* Read back as the CLI does: rules sorted, buckets in place. */
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	if (dist_metrics_read(f->r, m, &err) != CG_OK)
		die_err("metrics", &err);
	assert_int_equal(m->n, 3);
	assert_int_equal(m->ignored, 0);
	assert_string_equal(m->rules[0].rule, "b_2");
	assert_string_equal(m->rules[1].rule, "idm.v2");
	assert_string_equal(m->rules[2].rule, "old");
	assert_int_equal(m->rules[1].delivered, 3);
	assert_int_equal(m->rules[1].sum_ms, sum);
	assert_int_equal(dist_latency_count(&m->rules[1]), 3);
	assert_int_equal(m->rules[1].buckets[0], 1);		/* 5 ms */
	assert_int_equal(m->rules[1].buckets[9], 1);		/* 5 s */
	assert_int_equal(m->rules[1].buckets[DIST_LATENCY_NBOUNDS], 1);
	assert_int_equal(m->rules[0].buckets[5], 1);		/* 250 ms */
	assert_int_equal(m->rules[2].sum_ms, cap);
	assert_int_equal(dist_latency_bounds_ms[5], 250);
	assert_int_equal(dist_latency_bounds_ms[9], 5000);
	free(m);
}

/* A stats hash written by hand: what counts and what is ignored. */
static void
test_metrics_read(void **state)
{
	struct fx			*f = *state;
	struct cg_err			 err = { 0 };
	struct dist_metrics		*m;
	const struct dist_rule_metrics	*a, *idm, *none;
	char				 longrule[DIST_RULE_NAME_MAX + 16];

	freeReplyObject(cmd(f, "HSET " T_PREFIX "stats "
	    "a.b_c-D9:delivered 7 a.b_c-D9:retried 2 a.b_c-D9:dead 1 "
	    "a.b_c-D9:latency_le_5 3 a.b_c-D9:latency_le_60000 3 "
	    "a.b_c-D9:latency_le_inf 1 a.b_c-D9:latency_sum_ms 99999 "
	    "idm:delivered 4 idm:dead 0 :dead 2"));
	/* Ignored: unknown names, bounds not in the table or not spelled
	 * as the writer spells them, bad rule names, bad values. */
	freeReplyObject(cmd(f, "HSET " T_PREFIX "stats "
	    "nocolon 1 idm:bogus 3 idm:latency_le_7 1 idm:latency_le_05 1 "
	    "idm:latency_le_ 1 idm:Delivered 1 x:y:delivered 1 "
	    "idm2:delivered abc idm3:dead -1 idm4:dead 9223372036854775808 "
	    "idm5:retried +5 idm6:retried 1.0"));
	freeReplyObject(cmd(f, "HSET " T_PREFIX "stats %s 1 %s %s %s %s",
	    "bad rule:delivered", "idm7:dead", "", "idm8:dead", " 5"));
	memset(longrule, 'r', DIST_RULE_NAME_MAX + 1);
	snprintf(longrule + DIST_RULE_NAME_MAX + 1, 15, ":delivered");
	freeReplyObject(cmd(f, "HSET " T_PREFIX "stats %s 1", longrule));
	/* 64 bytes is still a rule name. */
	snprintf(longrule + DIST_RULE_NAME_MAX, 15, ":delivered");
	freeReplyObject(cmd(f, "HSET " T_PREFIX "stats %s 5", longrule));

	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	memset(m, 0x5a, sizeof(*m));		/* the reader clears it */
	if (dist_metrics_read(f->r, m, &err) != CG_OK)
		die_err("metrics", &err);
	assert_int_equal(m->ignored, 16);
	assert_false(m->truncated);
	assert_int_equal(m->n, 4);
	none = &m->rules[0];
	a = &m->rules[1];
	idm = &m->rules[2];
	assert_string_equal(none->rule, "");
	assert_int_equal(none->dead, 2);
	assert_string_equal(a->rule, "a.b_c-D9");
	assert_int_equal(a->delivered, 7);
	assert_int_equal(a->retried, 2);
	assert_int_equal(a->dead, 1);
	assert_int_equal(a->buckets[0], 3);
	assert_int_equal(a->buckets[DIST_LATENCY_NBOUNDS - 1], 3);
	assert_int_equal(a->buckets[DIST_LATENCY_NBOUNDS], 1);
	assert_int_equal(a->sum_ms, 99999);
	assert_int_equal(dist_latency_count(a), 7);
	assert_string_equal(idm->rule, "idm");
	assert_int_equal(idm->delivered, 4);
	assert_int_equal(idm->retried, 0);
	assert_int_equal(dist_latency_count(idm), 0);
	assert_int_equal(strlen(m->rules[3].rule), DIST_RULE_NAME_MAX);
	assert_int_equal(m->rules[3].delivered, 5);

	/* No hash at all: nothing, not an error; the wrong type: CG_EIO. */
	freeReplyObject(cmd(f, "DEL " T_PREFIX "stats"));
	assert_int_equal(dist_metrics_read(f->r, m, &err), CG_OK);
	assert_int_equal(m->n, 0);
	assert_int_equal(m->ignored, 0);
	freeReplyObject(cmd(f, "SET " T_PREFIX "stats x"));
	assert_int_equal(dist_metrics_read(f->r, m, &err), CG_EIO);
	assert_int_equal(m->n, 0);
	free(m);
}

/* The pure parser: its return codes, binary fields and the rule bound. */
static void
test_metrics_add(void **state)
{
	struct dist_metrics	*m;
	char			 field[32];
	int			 i;

	(void)state;
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	assert_int_equal(dist_metrics_add(m, "r:dead", 6, "12", 2), CG_OK);
	assert_int_equal(m->rules[0].dead, 12);
	/* The lengths rule, not NULs: "r:dead\0x" is not "r:dead". */
	assert_int_equal(dist_metrics_add(m, "r:dead\0x", 8, "1", 1),
	    CG_EINVAL);
	assert_int_equal(dist_metrics_add(m, "r:dead", 6, "1\0", 2),
	    CG_EINVAL);
	assert_int_equal(dist_metrics_add(m, "r\0:dead", 7, "1", 1),
	    CG_EINVAL);
	assert_int_equal(dist_metrics_add(m, "r:retried", 9,
	    "9223372036854775807", 19), CG_OK);
	assert_int_equal(m->rules[0].retried, INT64_MAX);
	assert_int_equal(dist_metrics_add(m, "r:dead", 6, "", 0), CG_EINVAL);
	assert_int_equal(dist_metrics_add(m, NULL, 0, "1", 1), CG_EINVAL);
	assert_int_equal(m->ignored, 5);
	assert_int_equal(m->rules[0].dead, 12);
	assert_int_equal(m->n, 1);

	/* DIST_METRICS_RULES_MAX rules, then no more; the known still count. */
	for (i = 1; i < DIST_METRICS_RULES_MAX; i++) {
		snprintf(field, sizeof(field), "rule%d:delivered", i);
		assert_int_equal(dist_metrics_add(m, field, strlen(field),
		    "1", 1), CG_OK);
	}
	assert_int_equal(m->n, DIST_METRICS_RULES_MAX);
	assert_false(m->truncated);
	assert_int_equal(dist_metrics_add(m, "one-more:dead", 13, "1", 1),
	    CG_ETOOBIG);
	assert_true(m->truncated);
	assert_int_equal(m->n, DIST_METRICS_RULES_MAX);
	assert_int_equal(dist_metrics_add(m, "rule7:dead", 10, "3", 1),
	    CG_OK);
	assert_int_equal(m->rules[7].dead, 3);
	free(m);
}

static void
test_quantile(void **state)
{
	struct dist_rule_metrics	 rm;
	uint64_t			 ms = 0;

	(void)state;
	memset(&rm, 0, sizeof(rm));
	assert_false(dist_latency_quantile(&rm, 0.5, &ms));	/* empty */

	rm.buckets[0] = 50;			/* <= 5 ms */
	rm.buckets[4] = 40;			/* <= 100 ms */
	rm.buckets[7] = 9;			/* <= 1 s */
	rm.buckets[DIST_LATENCY_NBOUNDS] = 1;	/* > 60 s */
	assert_int_equal(dist_latency_count(&rm), 100);
	assert_true(dist_latency_quantile(&rm, 0.5, &ms));
	assert_int_equal(ms, 5);
	assert_true(dist_latency_quantile(&rm, 0.51, &ms));
	assert_int_equal(ms, 100);
	assert_true(dist_latency_quantile(&rm, 0.9, &ms));
	assert_int_equal(ms, 100);
	assert_true(dist_latency_quantile(&rm, 0.99, &ms));
	assert_int_equal(ms, 1000);
	assert_true(dist_latency_quantile(&rm, 1.0, &ms));
	assert_true(ms == DIST_LATENCY_INF);
	assert_true(dist_latency_quantile(&rm, 0.001, &ms));
	assert_int_equal(ms, 5);
	assert_false(dist_latency_quantile(&rm, 0.0, &ms));
	assert_false(dist_latency_quantile(&rm, 1.5, &ms));
	assert_false(dist_latency_quantile(&rm, -0.5, &ms));

	/* p90 of 10 is the 9th value, not the 10th. */
	memset(&rm, 0, sizeof(rm));
	rm.buckets[1] = 9;			/* <= 10 ms */
	rm.buckets[2] = 1;			/* <= 25 ms */
	assert_true(dist_latency_quantile(&rm, 0.9, &ms));
	assert_int_equal(ms, 10);
	assert_true(dist_latency_quantile(&rm, 0.99, &ms));
	assert_int_equal(ms, 25);

	/* One delivery: every quantile is its bucket. */
	memset(&rm, 0, sizeof(rm));
	rm.buckets[5] = 1;
	assert_true(dist_latency_quantile(&rm, 0.5, &ms));
	assert_int_equal(ms, 250);
	assert_true(dist_latency_quantile(&rm, 0.99, &ms));
	assert_int_equal(ms, 250);

	/* Counters near the top saturate instead of wrapping. */
	memset(&rm, 0, sizeof(rm));
	rm.buckets[0] = INT64_MAX;
	rm.buckets[1] = INT64_MAX;
	rm.buckets[2] = INT64_MAX;
	assert_true(dist_latency_count(&rm) == UINT64_MAX);
	assert_true(dist_latency_quantile(&rm, 0.5, &ms));
	assert_int_equal(ms, 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_group_ensure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delivered_many, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delivered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delay_due, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delay_future, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delay_move_bounds, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dead_requeue, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dead_long_reason, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_deleted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_redis_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_latency_written, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_metrics_read, setup,
		    teardown),
		cmocka_unit_test(test_metrics_add),
		cmocka_unit_test(test_quantile),
	};

	/* A Redis that went away must fail a test, not kill the runner. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
