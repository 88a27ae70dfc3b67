/*
 * cmd_worker.c - `certgw worker --config FILE`: push workers without the
 * gateway, for other machines that share the gateway's Redis.  They need
 * the config's redis and distribution sections (and the rules' TLS files)
 * but neither the CA nor the store; deliveries are counted in Redis, not
 * in an audit log.
 */
#include "cmd.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certgw/dist_worker.h"

static void
worker_usage(FILE *f)
{
	fprintf(f,
"usage: certgw worker --config FILE\n"
"\n"
"Run distribution.workers push workers (at least one) against the Redis\n"
"of FILE, in the foreground, until SIGTERM or SIGINT.  Pushes in flight are\n"
"settled before exit; whatever is left stays in Redis.\n"
"\n"
"  --config FILE   the configuration (default $CERTGW_CONFIG or ./certgw.json)\n");
}

static void *
worker_thread(void *arg)
{
	dist_worker_run(arg);
	return NULL;
}

/* Start n workers, wait for SIGTERM/SIGINT, stop them. */
static int
run_workers(const struct gw_config *conf, unsigned n)
{
	struct dist_worker	*w;
	pthread_t		*tid;
	atomic_bool		 stop;
	sigset_t		 set;
	char			 host[64];
	unsigned		 i, started = 0;
	int			 sig = 0;

	w = cg_calloc(n, sizeof(*w));
	tid = cg_calloc(n, sizeof(*tid));
	if (w == NULL || tid == NULL) {
		cg_free(w);
		cg_free(tid);
		fprintf(stderr, "certgw: out of memory\n");
		return CMD_EXIT_FAIL;
	}
	atomic_init(&stop, false);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < n; i++) {
		w[i].conf = conf;
		w[i].stop = &stop;
		snprintf(w[i].consumer, sizeof(w[i].consumer),
		    "%.24s-%ld-w%u", host, (long)getpid(), i);
		if (pthread_create(&tid[i], NULL, worker_thread, &w[i]) != 0)
			break;
		started++;
	}
	cg_log_info("event=worker_start workers=%u", started);
	if (started == n)
		sigwait(&set, &sig);
	atomic_store(&stop, true);
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	cg_log_info("event=worker_stop signal=%d", sig);
	cg_free(w);
	cg_free(tid);
	return started == n ? CMD_EXIT_OK : CMD_EXIT_FAIL;
}

int
cmd_worker(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };
	const char		*config = NULL;
	int			 c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			worker_usage(stdout);
			return CMD_EXIT_OK;
		default:
			return cmd_usage_error("worker", "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("worker", "unexpected argument '%s'",
		    argv[optind]);
	if (config == NULL)
		config = getenv("CERTGW_CONFIG") != NULL ?
		    getenv("CERTGW_CONFIG") : "certgw.json";
	if (gw_config_load(config, &conf, &err) != CG_OK) {
		fprintf(stderr, "certgw: %s\n", err.msg);
		return CMD_EXIT_FAIL;
	}
	cg_log_set_level(conf->log_level);
	if (!conf->redis.enabled || conf->dist.nrules == 0) {
		fprintf(stderr, "certgw: %s has no redis section or no "
		    "distribution rules: nothing to push\n", config);
		gw_config_free(conf);
		return CMD_EXIT_FAIL;
	}
	rc = run_workers(conf, conf->dist.workers > 0 ?
	    conf->dist.workers : 1);
	gw_config_free(conf);
	return rc;
}
