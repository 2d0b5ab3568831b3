/*
 * scaler_sim - a day of CI load replayed through the scaler's planner and
 * through reference policies, side by side, second by second.
 *
 *   build/bench/scaler_sim            print the table
 *   build/bench/scaler_sim --check    also exit 1 unless our planner drains no
 *                                     busy agent, keeps p95 wait <= 180 s and
 *                                     beats the references (README.md)
 *   --seed N, and for tuning ours: --warm N --headroom PCT --min-age MIN
 *   --cooldown MIN --max-per-run N
 *
 * The trace is generated here from a seeded PRNG (no wall clock, no files):
 * a workday of builds (one stage each) over 10 hours with five merge bursts
 * and lognormal durations. Each policy runs on the same trace; what a policy
 * sees at each of its runs is what the real function sees: the queue's
 * pending and running counts and the running stages' runner names, and the
 * group with its members. Instances are billed per second from launch until
 * they are gone; they take BOOT_S before their agents take stages; a drained
 * instance takes no new stage and powers off POWEROFF_S after its last
 * stage ends. A free agent takes a pending stage at once, the agent picked
 * at random among the free ones: Drone's queue (scheduler/queue/queue.go,
 * signal()) hands a stage to the first matching waiting runner poll in a
 * `range` over a Go map, whose order is random. --packed gives the oldest
 * instance's agents first instead, to show how much placement matters.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scaler/scaler_plan.h"
#include "banned.h"

#define DAY_S (24 * 3600)	/* the window billed: one whole day */
#define WORKDAY_S (10 * 3600)	/* builds arrive in the first 10 hours */
#define BUILDS 1100
#define BURSTS 5
#define BURST_BUILDS 50		/* each burst; the rest arrive through the day */
#define BURST_MEAN_S 300	/* burst arrivals: exponential offsets, mean 5 min */
#define BURST_MAX_S 1200	/* ... cut at 20 minutes */
#define MEDIAN_S 480		/* build duration: lognormal, median 8 min */
#define SIGMA 0.6
#define AGENTS 4		/* agents per instance */
#define BOOT_S 180		/* launch to agents taking stages */
#define IN_SERVICE_S 90		/* launch to InService in the group */
#define POWEROFF_S 30		/* drained and idle to gone */
#define GROUP_MIN 0
#define GROUP_MAX 25
#define SEED 20261127u

/* ---- the trace ---- */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r) /* splitmix64 */
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_unit(struct rng *r) /* (0, 1) */
{
	return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(struct rng *r)
{
	return sqrt(-2.0 * log(rng_unit(r))) * cos(2.0 * M_PI * rng_unit(r));
}

struct stage {
	int32_t arrive_s, dur_s, start_s;
};

static int by_arrival(const void *a, const void *b)
{
	const struct stage *x = a, *y = b;
	return (x->arrive_s > y->arrive_s) - (x->arrive_s < y->arrive_s);
}

/* the workday's shape, hour by hour: a slow start, lunch, a busy afternoon */
static const double hour_weight[10] = { 0.6, 1.0, 1.2, 1.1, 0.6, 0.9, 1.2, 1.2, 1.0, 0.7 };
static const int burst_start_min[BURSTS] = { 50, 150, 260, 380, 500 };

static void make_trace(uint64_t seed, struct stage *st)
{
	struct rng r = { seed };
	double total = 0, acc;
	size_t n = 0;

	for (size_t h = 0; h < 10; h++)
		total += hour_weight[h];
	for (; n < BUILDS - BURSTS * BURST_BUILDS; n++) {
		double u = rng_unit(&r) * total;
		size_t h = 0;
		for (acc = hour_weight[0]; acc < u && h < 9; acc += hour_weight[++h])
			;
		st[n].arrive_s = (int32_t)(h * 3600 + rng_unit(&r) * 3600);
	}
	for (size_t b = 0; b < BURSTS; b++)
		for (size_t i = 0; i < BURST_BUILDS; i++, n++) {
			double off;
			do
				off = -BURST_MEAN_S * log(rng_unit(&r));
			while (off >= BURST_MAX_S);
			st[n].arrive_s = burst_start_min[b] * 60 + (int32_t)off;
		}
	for (size_t i = 0; i < BUILDS; i++) {
		double d = exp(log(MEDIAN_S) + SIGMA * rng_normal(&r));
		st[i].dur_s = (int32_t)(d < 60 ? 60 : d > 5400 ? 5400 : d);
		st[i].start_s = -1;
	}
	qsort(st, BUILDS, sizeof(*st), by_arrival);
}

/* ---- the simulated group ---- */

enum policy_kind { P_OURS, P_AT_MAX, P_DRONE, P_IDLE };

struct policy {
	enum policy_kind kind;
	const char *name;
	int period_s;			/* how often it runs */
	struct scaler_policy ours;	/* P_OURS */
	int min_age_s;			/* P_DRONE, P_IDLE */
};

struct inst {
	int32_t launch_s, drain_s, gone_s;	/* -1: not yet */
	int32_t agent[AGENTS];			/* stage index or -1 */
	int busy;
	char id[20];
};

struct sim {
	struct stage *st;
	struct inst *in;
	size_t n_in, cap_in;
	size_t desired;
	size_t head, arrived;			/* pending stages: [head, arrived) not started */
	int64_t last_scale_out_s;
	struct rng r;
	/* results */
	double paid_s, idle_s;
	size_t busy_drained, launches, drains;
};

struct result {
	double paid_min, idle_min, ratio, p50_s, p95_s, max_s;
	size_t busy_drained, launches, drains;
};

static bool in_group(const struct inst *x)
{
	return x->drain_s < 0 && x->gone_s < 0;
}

static void launch(struct sim *s, int32_t t)
{
	struct inst *x;

	if (s->n_in == s->cap_in) {
		s->cap_in = s->cap_in ? 2 * s->cap_in : 64;
		s->in = xrealloc(s->in, s->cap_in * sizeof(*s->in));
	}
	x = &s->in[s->n_in];
	memset(x, 0, sizeof(*x));
	x->launch_s = t;
	x->drain_s = x->gone_s = -1;
	for (size_t a = 0; a < AGENTS; a++)
		x->agent[a] = -1;
	snprintf(x->id, sizeof(x->id), "i-%017zx", s->n_in + 1);
	s->n_in++;
	s->launches++;
}

static void drain(struct sim *s, struct inst *x, int32_t t)
{
	x->drain_s = t;
	s->busy_drained += (size_t)x->busy;
	s->drains++;
	if (!x->busy)
		x->gone_s = t + POWEROFF_S;
}

static size_t group_count(const struct sim *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_in; i++)
		n += in_group(&s->in[i]);
	return n;
}

static void scale_to(struct sim *s, size_t desired, int32_t t)
{
	size_t have = group_count(s);

	if (desired > GROUP_MAX)
		desired = GROUP_MAX;
	if (desired > have)
		s->last_scale_out_s = t;
	for (; have < desired; have++)
		launch(s, t);
	s->desired = desired;
}

static size_t running_count(const struct sim *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_in; i++)
		n += (size_t)s->in[i].busy;
	return n;
}

static struct inst *find(struct sim *s, const char *id)
{
	for (size_t i = 0; i < s->n_in; i++)
		if (!strcmp(s->in[i].id, id))
			return &s->in[i];
	return NULL;
}

/* Our planner, fed what the function would read at time t. */
static void run_ours(struct sim *s, const struct policy *p, int32_t t)
{
	struct scaler_member *m = xcalloc(s->n_in + 1, sizeof(*m));
	const char **machines = xcalloc(running_count(s) + 1, sizeof(*machines));
	struct scaler_inputs in = { 0 };
	struct scaler_plan plan;
	size_t nm = 0, nr = 0;

	for (size_t i = 0; i < s->n_in; i++) {
		struct inst *x = &s->in[i];
		for (size_t a = 0; a < AGENTS; a++)
			if (x->agent[a] >= 0)
				machines[nr++] = x->id;
		if (!in_group(x))
			continue;
		m[nm++] = (struct scaler_member){
			.instance_id = x->id,
			.runner_name = x->id,
			.lifecycle_state = t - x->launch_s >= IN_SERVICE_S ? "InService" : "Pending",
			.healthy = true,
			.protected_from_scale_in = true,
			.launch_time_s = x->launch_s,
		};
	}
	in.queue = (struct scaler_queue){ s->arrived - s->head, nr, machines, nr };
	in.queue_known = in.complete = true;
	in.group = (struct scaler_group){ "agents", s->desired, GROUP_MIN, GROUP_MAX };
	in.members = m;
	in.member_count = nm;
	in.last_scale_out_s = s->last_scale_out_s;
	in.now_s = t;
	scaler_mark_busy(m, nm, &in.queue);
	scaler_plan(&in, &p->ours, &plan);
	if (plan.scale_out)
		scale_to(s, plan.scale_out_to, t);
	for (size_t i = 0; i < plan.drain.count; i++) {
		drain(s, find(s, plan.drain.items[i]), t);
		s->desired--;
	}
	scaler_plan_release(&plan);
	free(machines);
	free(m);
}

static int cmp_newest(const void *a, const void *b)
{
	const struct inst *x = *(struct inst *const *)a, *y = *(struct inst *const *)b;
	return (x->launch_s < y->launch_s) - (x->launch_s > y->launch_s);
}

/*
 * drone/autoscaler's planner (engine/planner.go, engine/calc.go at
 * github.com/drone/autoscaler, master): every DRONE_INTERVAL (default 5m)
 *   free = max(capacity - running - DRONE_CAPACITY_BUFFER (default 0), 0)
 *   diff = ceil((pending - free) / concurrency)
 *   diff > 0: create min(diff, max - count) servers
 *   diff < 0: n = serverFloor(count, -diff, min); abort if running servers
 *             - n < min; else shut down up to n running servers, newest
 *             first, skipping busy ones (a stage names them) and those
 *             younger than DRONE_POOL_MIN_AGE (default 55m)
 * where capacity and count include every server not yet stopped (also the
 * ones shutting down). Pool min/max are the group's (0/25) for every
 * policy here, not drone/autoscaler's 2/4.
 */
static void run_drone(struct sim *s, const struct policy *p, int32_t t)
{
	long pending = (long)(s->arrived - s->head), running = (long)running_count(s);
	long count = 0, capacity, free_, diff;
	struct inst **srv = xcalloc(s->n_in + 1, sizeof(*srv));
	size_t ns = 0;

	for (size_t i = 0; i < s->n_in; i++)
		count += s->in[i].gone_s < 0 || s->in[i].gone_s > t;
	capacity = count * AGENTS;
	free_ = capacity - running > 0 ? capacity - running : 0;
	diff = (long)ceil((double)(pending - free_) / AGENTS);
	if (diff > 0) {
		if (count + diff >= GROUP_MAX)
			diff = GROUP_MAX - count;
		for (long i = 0; i < diff; i++)
			launch(s, t);
		if (diff > 0)
			s->last_scale_out_s = t;
	} else if (diff < 0) {
		long n = -diff, taken = 0;
		if (GROUP_MIN > count - n)
			n = count - GROUP_MIN > 0 ? count - GROUP_MIN : 0;
		for (size_t i = 0; i < s->n_in; i++)
			if (in_group(&s->in[i]) && t >= s->in[i].launch_s + BOOT_S)
				srv[ns++] = &s->in[i];
		qsort(srv, ns, sizeof(*srv), cmp_newest);
		if ((long)ns - n >= GROUP_MIN)
			for (size_t i = 0; i < ns && taken < n; i++) {
				if (srv[i]->busy || t - srv[i]->launch_s < p->min_age_s)
					continue;
				drain(s, srv[i], t);
				taken++;
			}
	}
	free(srv);
}

/* Minutely: scale out to ceil((pending + running) / agents); drain every
 * idle instance older than N minutes (the group's minimum kept). */
static void run_idle(struct sim *s, const struct policy *p, int32_t t)
{
	size_t work = (s->arrived - s->head) + running_count(s);
	size_t need = (work + AGENTS - 1) / AGENTS, have = group_count(s);

	if (need > have) {
		scale_to(s, need, t);
		return;
	}
	for (size_t i = s->n_in; i-- > 0 && have > GROUP_MIN;) {
		struct inst *x = &s->in[i];
		if (in_group(x) && !x->busy && t - x->launch_s >= p->min_age_s) {
			drain(s, x, t);
			have--;
		}
	}
	s->desired = have;
}

/* ---- the clock ---- */

static bool packed;

static void assign(struct sim *s, int32_t t)
{
	size_t nfree = 0;
	static struct {
		struct inst *x;
		size_t a;
	} slot[GROUP_MAX * AGENTS * 4];

	if (s->head == s->arrived)
		return;
	for (size_t i = 0; i < s->n_in; i++) {
		struct inst *x = &s->in[i];
		if (!in_group(x) || t < x->launch_s + BOOT_S)
			continue;
		for (size_t a = 0; a < AGENTS; a++)
			if (x->agent[a] < 0 && nfree < sizeof(slot) / sizeof(slot[0]))
				slot[nfree].x = x, slot[nfree++].a = a;
	}
	while (s->head < s->arrived && nfree) {
		/* packed: the oldest instance's free agent first (slot 0) */
		size_t k = packed ? 0 : (size_t)(rng_next(&s->r) % nfree);
		struct stage *st = &s->st[s->head++];
		st->start_s = t;
		slot[k].x->agent[slot[k].a] = (int32_t)(st - s->st);
		slot[k].x->busy++;
		if (packed)
			memmove(&slot[0], &slot[1], --nfree * sizeof(slot[0]));
		else
			slot[k] = slot[--nfree];
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double quantile(const double *sorted, size_t n, double q) /* nearest rank */
{
	size_t k = (size_t)ceil(q * (double)n);
	return sorted[k ? k - 1 : 0];
}

static void simulate(const struct stage *trace, const struct policy *p, uint64_t seed,
		     struct result *res)
{
	struct sim s = { 0 };
	double oracle_s = 0, *wait = xcalloc(BUILDS, sizeof(*wait));

	s.st = xcalloc(BUILDS, sizeof(*s.st));
	memcpy(s.st, trace, BUILDS * sizeof(*s.st));
	s.r.s = seed ^ 0x5ca1ab1eull;
	if (p->kind == P_AT_MAX)
		for (size_t i = 0; i < GROUP_MAX; i++)
			launch(&s, -BOOT_S); /* booted and waiting when the day starts */
	for (int32_t t = 0; t < DAY_S; t++) {
		/* stages that end now free their agents */
		for (size_t i = 0; i < s.n_in; i++) {
			struct inst *x = &s.in[i];
			for (size_t a = 0; a < AGENTS; a++) {
				int32_t k = x->agent[a];
				if (k >= 0 && s.st[k].start_s + s.st[k].dur_s <= t) {
					x->agent[a] = -1;
					if (--x->busy == 0 && x->drain_s >= 0)
						x->gone_s = t + POWEROFF_S;
				}
			}
		}
		while (s.arrived < BUILDS && s.st[s.arrived].arrive_s <= t)
			s.arrived++;
		assign(&s, t);
		if (t % p->period_s == 0) {
			switch (p->kind) {
			case P_OURS:
				run_ours(&s, p, t);
				break;
			case P_DRONE:
				run_drone(&s, p, t);
				break;
			case P_IDLE:
				run_idle(&s, p, t);
				break;
			case P_AT_MAX:
				break;
			}
		}
		for (size_t i = 0; i < s.n_in; i++) {
			const struct inst *x = &s.in[i];
			if (x->launch_s <= t && (x->gone_s < 0 || x->gone_s > t)) {
				s.paid_s += 1;
				s.idle_s += x->busy == 0;
			}
		}
	}
	for (size_t i = 0; i < BUILDS; i++) {
		wait[i] = s.st[i].start_s < 0 ? DAY_S - s.st[i].arrive_s
					      : s.st[i].start_s - s.st[i].arrive_s;
		oracle_s += s.st[i].dur_s;
	}
	qsort(wait, BUILDS, sizeof(*wait), cmp_double);
	res->paid_min = s.paid_s / 60;
	res->idle_min = s.idle_s / 60;
	res->ratio = s.paid_s / (oracle_s / AGENTS);
	res->p50_s = quantile(wait, BUILDS, 0.50);
	res->p95_s = quantile(wait, BUILDS, 0.95);
	res->max_s = wait[BUILDS - 1];
	res->busy_drained = s.busy_drained;
	res->launches = s.launches;
	res->drains = s.drains;
	free(wait);
	free(s.st);
	free(s.in);
}

static unsigned flag_value(int argc, char **argv, int *i)
{
	char *end;
	unsigned long v;

	if (*i + 1 >= argc) {
		fprintf(stderr, "scaler_sim: %s needs a value\n", argv[*i]);
		exit(2);
	}
	v = strtoul(argv[++*i], &end, 10);
	if (*end || v > 4000000000ul) {
		fprintf(stderr, "scaler_sim: bad value '%s'\n", argv[*i]);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	struct policy pol[] = {
		{ P_OURS, "ours (scaler_plan)", 60, SCALER_POLICY_DEFAULT, 0 },
		{ P_IDLE, "idle and older than 10 min", 60, { 0 }, 10 * 60 },
		{ P_DRONE, "drone/autoscaler rule", 300, { 0 }, 55 * 60 },
		{ P_AT_MAX, "always at max (25)", 60, { 0 }, 0 },
	};
	struct stage *trace = xcalloc(BUILDS, sizeof(*trace));
	struct result res[sizeof(pol) / sizeof(pol[0])];
	uint64_t seed = SEED;
	bool check = false;
	double oracle_s = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--check"))
			check = true;
		else if (!strcmp(argv[i], "--seed"))
			seed = flag_value(argc, argv, &i);
		else if (!strcmp(argv[i], "--packed"))
			packed = true;
		else if (!strcmp(argv[i], "--warm"))
			pol[0].ours.warm_agents = flag_value(argc, argv, &i);
		else if (!strcmp(argv[i], "--headroom"))
			pol[0].ours.pending_headroom_percent = flag_value(argc, argv, &i);
		else if (!strcmp(argv[i], "--min-age"))
			pol[0].ours.min_instance_age_minutes = flag_value(argc, argv, &i);
		else if (!strcmp(argv[i], "--cooldown"))
			pol[0].ours.scale_in_cooldown_minutes = flag_value(argc, argv, &i);
		else if (!strcmp(argv[i], "--max-per-run"))
			pol[0].ours.max_scale_in_per_run = flag_value(argc, argv, &i);
		else {
			fprintf(stderr, "usage: scaler_sim [--check] [--seed N] [--warm N] "
					"[--headroom PCT] [--min-age MIN] [--cooldown MIN] "
					"[--max-per-run N]\n");
			return 2;
		}
	}

	make_trace(seed, trace);
	for (size_t i = 0; i < BUILDS; i++)
		oracle_s += trace[i].dur_s;
	printf("trace: seed %llu, %d builds over %d h (%d bursts of %d), median %d s, "
	       "%d agents/instance, boot %d s, max %d instances, billed over %d h\n",
	       (unsigned long long)seed, BUILDS, WORKDAY_S / 3600, BURSTS, BURST_BUILDS, MEDIAN_S,
	       AGENTS, BOOT_S, GROUP_MAX, DAY_S / 3600);
	printf("ours: warm %u agents, headroom %u%% of pending, min age %u min, cooldown %u min, "
	       "max %u per run\n", pol[0].ours.warm_agents, pol[0].ours.pending_headroom_percent,
	       pol[0].ours.min_instance_age_minutes, pol[0].ours.scale_in_cooldown_minutes,
	       pol[0].ours.max_scale_in_per_run);
	printf("oracle (zero wait, perfect packing, no boot): %.0f instance-minutes\n\n",
	       oracle_s / AGENTS / 60);
	printf("| policy | instance-min paid | x oracle | idle instance-min | wait p50 | wait p95 "
	       "| wait max | busy agents drained | launches |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < sizeof(pol) / sizeof(pol[0]); i++) {
		simulate(trace, &pol[i], seed, &res[i]);
		printf("| %s | %.0f | %.2f | %.0f | %.0f s | %.0f s | %.0f s | %zu | %zu |\n",
		       pol[i].name, res[i].paid_min, res[i].ratio, res[i].idle_min, res[i].p50_s,
		       res[i].p95_s, res[i].max_s, res[i].busy_drained, res[i].launches);
	}
	/* res[0] ours, res[1] the idle rule, res[2] drone/autoscaler's rule */
	printf("\ngoal, ours <= 1.15x the oracle: %s (%.2fx)\n", res[0].ratio <= 1.15 ? "met" : "NOT met",
	       res[0].ratio);
	if (check) {
		bool ok = res[0].busy_drained == 0 && res[0].p95_s <= 180 &&
			  res[0].p95_s <= res[1].p95_s && res[0].p95_s <= res[2].p95_s &&
			  res[0].ratio <= res[2].ratio;
		printf("check (ours: 0 busy agents drained, p95 wait <= 180 s and no worse than the "
		       "references', paying no more than drone/autoscaler's rule): %s\n",
		       ok ? "passed" : "FAILED");
		rc = ok ? 0 : 1;
	}
	free(trace);
	return rc;
}
