/*
 * appl_jobsm.c - one job's state machine (appl_jobsm.h). Pure.
 */
#include "central/app/appl_jobsm.h"

#include <math.h>

size_t jobsm_batch_size(bool percent, double value, size_t n)
{
    double b = percent ? ceil(value * (double)n / 100.0) : value;
    if (n == 0 || !(b >= 1))
        return 1;
    return b >= (double)n ? n : (size_t)b;
}

size_t jobsm_count(const struct jobsm *m, enum jobsm_dev s)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++)
        k += m->dev[i] == s;
    return k;
}

/* No device pending or in flight: the job ended (complete unless every device failed). */
static void settle(struct jobsm *m)
{
    if (m->status != JS_RUNNING || jobsm_count(m, JD_PENDING) || jobsm_count(m, JD_STARTED))
        return;
    size_t failed = jobsm_count(m, JD_FAILED);
    m->status = m->n > 0 && failed == m->n ? JS_FAILED : JS_COMPLETE;
}

void jobsm_init(struct jobsm *m, uint8_t *dev, size_t n, size_t batch)
{
    *m = (struct jobsm){.dev = dev, .n = n, .batch = batch ? batch : 1, .status = JS_RUNNING};
    if (jobsm_count(m, JD_CANCELLED) > 0)
        m->status = JS_CANCELLED;
    settle(m);
}

size_t jobsm_recover(struct jobsm *m, bool redo)
{
    size_t failed = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (m->dev[i] != JD_STARTED)
            continue;
        m->dev[i] = redo ? JD_PENDING : JD_FAILED;
        failed += !redo;
    }
    settle(m);
    return failed;
}

long jobsm_next(struct jobsm *m)
{
    if (m->status != JS_RUNNING || jobsm_count(m, JD_STARTED) >= m->batch)
        return -1;
    for (size_t i = 0; i < m->n; i++) {
        if (m->dev[i] == JD_PENDING) {
            m->dev[i] = JD_STARTED;
            return (long)i;
        }
    }
    return -1;
}

/* Over the threshold: failures among all devices, or (batch) among the batch of device @p i. */
static bool over_threshold(const struct jobsm *m, size_t i)
{
    if (!m->threshold)
        return false;
    size_t from = 0, to = m->n;
    if (m->thr_batch) {
        from = i / m->batch * m->batch;
        to = from + m->batch < m->n ? from + m->batch : m->n;
    }
    size_t failed = 0;
    for (size_t k = from; k < to; k++)
        failed += m->dev[k] == JD_FAILED;
    double limit = m->thr_percent ? m->thr_value * (double)(to - from) / 100.0 : m->thr_value;
    return failed > 0 && (double)failed >= limit;
}

void jobsm_finish(struct jobsm *m, size_t i, bool ok)
{
    if (i >= m->n || m->dev[i] != JD_STARTED)
        return;
    m->dev[i] = ok ? JD_COMPLETED : JD_FAILED;
    if (!ok && over_threshold(m, i) && (m->status == JS_RUNNING || m->status == JS_STOPPED)) {
        for (size_t k = 0; k < m->n; k++) {
            if (m->dev[k] == JD_PENDING)
                m->dev[k] = JD_CANCELLED;
        }
        m->status = JS_CANCELLED;
        return;
    }
    settle(m);
}

bool jobsm_stop(struct jobsm *m)
{
    if (m->status != JS_RUNNING)
        return false;
    m->status = JS_STOPPED;
    return true;
}

bool jobsm_resume(struct jobsm *m)
{
    if (m->status != JS_STOPPED)
        return false;
    m->status = JS_RUNNING;
    settle(m);
    return true;
}

const char *jobsm_dev_name(int s)
{
    static const char *const names[] = {"pending", "running", "completed", "failed", "cancelled"};
    return s >= 0 && s <= JD_CANCELLED ? names[s] : "unknown";
}

const char *jobsm_status_name(int s)
{
    static const char *const names[] = {"running", "stopped", "complete", "failed", "cancelled"};
    return s >= 0 && s <= JS_CANCELLED ? names[s] : "unknown";
}
