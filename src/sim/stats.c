/*
 * stats.c - latency histograms, the live progress line, the status file and the JSON summary.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sim/sim.h"

int proc_cpu_rss(int pid, double *cpu_s, long *rss_kb, long *hwm_kb)
{
    char path[64], buf[2048];
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    p++;
    /* Fields after the command: 3 state ... 14 utime 15 stime (proc(5)). */
    unsigned long long ut = 0, st = 0;
    char *save = NULL, *tok = strtok_r(p, " ", &save);
    for (int field = 3; tok != NULL && field <= 15; field++) {
        if (field == 14)
            ut = strtoull(tok, NULL, 10);
        if (field == 15)
            st = strtoull(tok, NULL, 10);
        tok = strtok_r(NULL, " ", &save);
    }
    if (cpu_s != NULL)
        *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(buf, sizeof buf, f) != NULL) {
        if (rss_kb != NULL && strncmp(buf, "VmRSS:", 6) == 0)
            *rss_kb = strtol(buf + 6, NULL, 10);
        if (hwm_kb != NULL && strncmp(buf, "VmHWM:", 6) == 0)
            *hwm_kb = strtol(buf + 6, NULL, 10);
    }
    fclose(f);
    return 0;
}

static uint64_t errors_of(const struct sim_stats *st)
{
    uint64_t t = 0;
    for (int i = 0; i < SIM_ERR__COUNT; i++)
        if (i != SIM_ERR_WINDOW_FULL)
            t += st->errors[i];
    return t;
}

static uint64_t errors_total(const struct sim *s)
{
    return errors_of(&s->st);
}

static void hist_merge(struct sim_hist *dst, const struct sim_hist *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
    for (size_t i = 0; i < SIM_HIST_POW * SIM_HIST_SUB; i++)
        dst->b[i] += src->b[i];
}

void stats_add(struct sim_stats *dst, const struct sim_stats *src)
{
    bool had_reg = dst->provisioned > 0;
    dst->started += src->started;
    dst->provisioned += src->provisioned;
    dst->connected += src->connected;
    dst->connected_total += src->connected_total;
    dst->reconnects += src->reconnects;
    dst->failed += src->failed;
    dst->sent += src->sent;
    dst->acked += src->acked;
    dst->received += src->received;
    dst->methods += src->methods;
    dst->twin_patches += src->twin_patches;
    dst->twin_responses += src->twin_responses;
    dst->desired += src->desired;
    for (int i = 0; i < SIM_ERR__COUNT; i++)
        dst->errors[i] += src->errors[i];
    dst->rest_ok += src->rest_ok;
    for (int i = 0; i < 6; i++)
        dst->rest_status[i] += src->rest_status[i];
    hist_merge(&dst->puback, &src->puback);
    hist_merge(&dst->dps, &src->dps);
    hist_merge(&dst->connect, &src->connect);
    hist_merge(&dst->dps_connect, &src->dps_connect);
    hist_merge(&dst->rest, &src->rest);
    if (src->storm_s > dst->storm_s)
        dst->storm_s = src->storm_s; /* shards share the start: the storm ends with the last */
    dst->storm_connected += src->storm_connected;
    if (src->have_dev_acked) {
        if (!dst->have_dev_acked || src->dev_acked_min < dst->dev_acked_min)
            dst->dev_acked_min = src->dev_acked_min;
        dst->have_dev_acked = true;
    }
    dst->dev_acked_0 += src->dev_acked_0;
    dst->dev_acked_1 += src->dev_acked_1;
    dst->dev_acked_2plus += src->dev_acked_2plus;
    if (src->provisioned > 0) {
        if (!had_reg || src->first_reg_s < dst->first_reg_s)
            dst->first_reg_s = src->first_reg_s;
        if (src->last_reg_s > dst->last_reg_s)
            dst->last_reg_s = src->last_reg_s;
    }
}

void stats_progress(struct sim *s, bool final)
{
    static struct sim_stats sum; /* large; only the loop of shard 0 prints */
    const struct sim_stats *st = &s->st;
    if (!final && s->group != NULL) {
        shard_sum_stats(s, &sum);
        st = &sum;
    }
    double now = sim_elapsed_s(s);
    double dt = now - s->last_tick_s;
    uint64_t count = s->cfg.qos > 0 ? st->acked : st->sent;
    if (s->cfg.mode == SIM_MODE_SUBSCRIBER)
        count = st->received;
    if (dt > 0.2) {
        s->rate_now = (double)(count - s->last_acked) / dt;
        s->last_acked = count;
        s->last_tick_s = now;
    }
    if (s->cfg.quiet)
        return;
    bool tty = isatty(STDERR_FILENO);
    fprintf(stderr,
            "%s[%6.1fs] started %llu/%d provisioned %llu connected %llu sent %llu acked %llu "
            "recv %llu methods %llu errors %llu msg/s %.0f%s",
            tty ? "\r" : "", now, (unsigned long long)st->started, s->total_devices,
            (unsigned long long)st->provisioned, (unsigned long long)st->connected,
            (unsigned long long)st->sent, (unsigned long long)st->acked,
            (unsigned long long)st->received, (unsigned long long)st->methods,
            (unsigned long long)errors_of(st), s->rate_now, tty && !final ? "  " : "\n");
    fflush(stderr);
}

void stats_status_file(struct sim *s)
{
    static struct sim_stats sum;
    char tmp[1100];
    if (s->cfg.status_file == NULL)
        return;
    const struct sim_stats *st = &s->st;
    if (s->group != NULL) {
        shard_sum_stats(s, &sum);
        st = &sum;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", s->cfg.status_file);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return;
    fprintf(f,
            "{\"elapsed_s\":%.3f,\"started\":%llu,\"provisioned\":%llu,\"connected\":%llu,"
            "\"sent\":%llu,\"acked\":%llu,\"errors\":%llu,\"window_open\":%s,\"finished\":%s}\n",
            sim_elapsed_s(s), (unsigned long long)st->started, (unsigned long long)st->provisioned,
            (unsigned long long)st->connected, (unsigned long long)st->sent,
            (unsigned long long)st->acked, (unsigned long long)errors_of(st),
            s->window_open ? "true" : "false", s->finished ? "true" : "false");
    if (fclose(f) == 0)
        rename(tmp, s->cfg.status_file);
}

static double rnd(double v, double unit)
{
    return round(v / unit) * unit;
}

static cJSON *hist_json(const struct sim_hist *h)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)h->count);
    if (h->count > 0) {
        cJSON_AddNumberToObject(o, "mean", rnd((double)h->sum / (double)h->count / 1000.0, 0.001));
        cJSON_AddNumberToObject(o, "min", (double)h->min / 1000.0);
        cJSON_AddNumberToObject(o, "p50", (double)hist_percentile(h, 50) / 1000.0);
        cJSON_AddNumberToObject(o, "p90", (double)hist_percentile(h, 90) / 1000.0);
        cJSON_AddNumberToObject(o, "p99", (double)hist_percentile(h, 99) / 1000.0);
        cJSON_AddNumberToObject(o, "max", (double)h->max / 1000.0);
    }
    return o;
}

static const char *mode_name(enum sim_mode m)
{
    switch (m) {
    case SIM_MODE_CENTRAL:
        return "central";
    case SIM_MODE_DPS_ONLY:
        return "dps-only";
    case SIM_MODE_BROKER:
        return "broker";
    case SIM_MODE_SUBSCRIBER:
        return "subscriber";
    }
    return "?";
}

static void add_window(struct sim *s, cJSON *root)
{
    cJSON *w = cJSON_AddObjectToObject(root, "window");
    double len = s->window_end_s - s->window_start_s;
    cJSON_AddBoolToObject(w, "measured", s->window_closed && len > 0);
    if (!s->window_closed || len <= 0)
        return;
    uint64_t acked = s->win_acked1 - s->win_acked0, sent = s->win_sent1 - s->win_sent0;
    uint64_t recv = s->win_recv1 - s->win_recv0;
    cJSON_AddNumberToObject(w, "start_s", rnd(s->window_start_s, 0.001));
    cJSON_AddNumberToObject(w, "seconds", rnd(len, 0.001));
    cJSON_AddNumberToObject(w, "connected", s->win_connected);
    cJSON_AddNumberToObject(w, "sent", (double)sent);
    cJSON_AddNumberToObject(w, "acked", (double)acked);
    cJSON_AddNumberToObject(w, "received", (double)recv);
    cJSON_AddNumberToObject(w, "sent_per_s", rnd((double)sent / len, 0.1));
    cJSON_AddNumberToObject(w, "acked_per_s", rnd((double)acked / len, 0.1));
    cJSON_AddNumberToObject(w, "received_per_s", rnd((double)recv / len, 0.1));
    if (s->cfg.server_pid > 0) {
        cJSON *sv = cJSON_AddObjectToObject(root, "server");
        double cpu = s->srv_cpu1 - s->srv_cpu0;
        uint64_t msgs = s->cfg.qos > 0 ? acked : sent;
        cJSON_AddNumberToObject(sv, "pid", s->cfg.server_pid);
        cJSON_AddNumberToObject(sv, "cpu_s", rnd(cpu, 0.01));
        cJSON_AddNumberToObject(sv, "cpu_util", rnd(cpu / len, 0.001));
        cJSON_AddNumberToObject(sv, "msgs_per_cpu_s", cpu > 0 ? rnd((double)msgs / cpu, 0.1) : 0);
        cJSON_AddNumberToObject(sv, "rss_base_kb", (double)s->srv_rss_base_kb);
        cJSON_AddNumberToObject(sv, "rss_connected_kb", (double)s->srv_rss0_kb);
        cJSON_AddNumberToObject(sv, "rss_end_kb", (double)s->srv_rss1_kb);
        cJSON_AddNumberToObject(sv, "hwm_kb", (double)s->srv_hwm_kb);
        if (s->win_connected > 0)
            cJSON_AddNumberToObject(
                sv, "rss_per_connection_bytes",
                rnd((double)(s->srv_rss0_kb - s->srv_rss_base_kb) * 1024.0 / s->win_connected, 1));
    }
}

void stats_summary(struct sim *s, FILE *out)
{
    cJSON *root = cJSON_CreateObject();
    double el = sim_elapsed_s(s);
    cJSON_AddStringToObject(root, "mode", mode_name(s->cfg.mode));
    cJSON_AddNumberToObject(root, "devices", s->total_devices);
    cJSON_AddNumberToObject(root, "qos", s->cfg.qos);
    cJSON_AddNumberToObject(root, "elapsed_s", rnd(el, 0.001));
    cJSON_AddNumberToObject(root, "started", (double)s->st.started);
    cJSON_AddNumberToObject(root, "provisioned", (double)s->st.provisioned);
    cJSON_AddNumberToObject(root, "connected", (double)s->st.connected_total);
    cJSON_AddNumberToObject(root, "failed", (double)s->st.failed);
    cJSON_AddNumberToObject(root, "reconnects", (double)s->st.reconnects);
    cJSON_AddNumberToObject(root, "sent", (double)s->st.sent);
    cJSON_AddNumberToObject(root, "acked", (double)s->st.acked);
    cJSON_AddNumberToObject(root, "received", (double)s->st.received);
    cJSON_AddNumberToObject(root, "methods", (double)s->st.methods);
    cJSON *tw = cJSON_AddObjectToObject(root, "twin");
    cJSON_AddNumberToObject(tw, "reported_patches", (double)s->st.twin_patches);
    cJSON_AddNumberToObject(tw, "responses", (double)s->st.twin_responses);
    cJSON_AddNumberToObject(tw, "desired_pushes", (double)s->st.desired);
    if (s->st.provisioned > 1 && s->st.last_reg_s > s->st.first_reg_s)
        cJSON_AddNumberToObject(
            root, "registrations_per_s",
            rnd((double)(s->st.provisioned - 1) / (s->st.last_reg_s - s->st.first_reg_s), 0.1));
    if (s->st.storm_s > 0) {
        /* Every device was up (or had given up) storm.seconds after the start; handshakes
         * that failed or timed out on the way are in errors and reconnects. */
        cJSON *sm = cJSON_AddObjectToObject(root, "storm");
        cJSON_AddNumberToObject(sm, "seconds", rnd(s->st.storm_s, 0.001));
        cJSON_AddNumberToObject(sm, "connected", (double)s->st.storm_connected);
        cJSON_AddNumberToObject(sm, "connects_per_s",
                                rnd((double)s->st.storm_connected / s->st.storm_s, 0.1));
    }
    if (s->st.have_dev_acked) {
        cJSON *da = cJSON_AddObjectToObject(root, "devices_acked");
        cJSON_AddNumberToObject(da, "min", (double)s->st.dev_acked_min);
        cJSON_AddNumberToObject(da, "none", (double)s->st.dev_acked_0);
        cJSON_AddNumberToObject(da, "one", (double)s->st.dev_acked_1);
        cJSON_AddNumberToObject(da, "two_or_more", (double)s->st.dev_acked_2plus);
    }
    add_window(s, root);
    if (s->cfg.server_pid > 0) {
        cJSON *sv = cJSON_GetObjectItemCaseSensitive(root, "server");
        if (sv == NULL) {
            sv = cJSON_AddObjectToObject(root, "server");
            cJSON_AddNumberToObject(sv, "pid", s->cfg.server_pid);
        }
        double cpu = s->srv_cpu_end - s->srv_cpu_start;
        cJSON_AddNumberToObject(sv, "run_cpu_s", rnd(cpu, 0.01));
        if (s->cfg.mode == SIM_MODE_DPS_ONLY && cpu > 0)
            cJSON_AddNumberToObject(sv, "registrations_per_cpu_s",
                                    rnd((double)s->st.provisioned / cpu, 0.1));
    }
    cJSON *lat = cJSON_AddObjectToObject(root, "latency_ms");
    cJSON_AddItemToObject(lat, "puback", hist_json(&s->st.puback));
    cJSON_AddItemToObject(lat, "dps_registration", hist_json(&s->st.dps));
    cJSON_AddItemToObject(lat, "connect", hist_json(&s->st.connect));
    if (s->st.dps_connect.count > 0)
        cJSON_AddItemToObject(lat, "dps_connect", hist_json(&s->st.dps_connect));
    if (s->cfg.invoke_count > 0) {
        cJSON_AddItemToObject(lat, "method_round_trip", hist_json(&s->st.rest));
        cJSON *r = cJSON_AddObjectToObject(root, "rest");
        cJSON_AddNumberToObject(r, "ok", (double)s->st.rest_ok);
        static const char *names[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
        for (int i = 0; i < 6; i++)
            if (s->st.rest_status[i] > 0)
                cJSON_AddNumberToObject(r, names[i], (double)s->st.rest_status[i]);
    }
    cJSON *er = cJSON_AddObjectToObject(root, "errors");
    for (int i = 0; i < SIM_ERR__COUNT; i++)
        if (s->st.errors[i] > 0)
            cJSON_AddNumberToObject(er, sim_err_name((enum sim_err)i), (double)s->st.errors[i]);
    cJSON_AddNumberToObject(root, "errors_total", (double)errors_total(s));
    double cpu = 0;
    long rss = 0, hwm = 0;
    if (proc_cpu_rss(getpid(), &cpu, &rss, &hwm) == 0) {
        cJSON *me = cJSON_AddObjectToObject(root, "sim");
        cJSON_AddNumberToObject(me, "cpu_s", rnd(cpu, 0.01));
        cJSON_AddNumberToObject(me, "hwm_kb", (double)hwm);
    }
    char *text = cJSON_Print(root);
    if (text != NULL)
        fprintf(out, "%s\n", text);
    cJSON_free(text);
    cJSON_Delete(root);
}
