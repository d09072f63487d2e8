/*
 * rules.c - `iotc rules list|show|create|update|delete|devices` (/api/rules) and
 * `iotc alerts list|show|ack` (/api/alerts): iotc's own rules API, docs/API.md "Rules".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void condition_text(const cJSON *r, char *out, size_t size)
{
    const cJSON *c = cJSON_GetObjectItem(r, "condition");
    const cJSON *v = cJSON_GetObjectItem(c, "value");
    char *val = cli_value_text(v);
    const char *agg = cli_str(c, "aggregation", NULL);
    const char *comp = cli_str(c, "component", NULL);
    char name[200];
    snprintf(name, sizeof name, "%s%s%s", comp ? comp : "", comp ? "." : "",
             cli_str(c, "telemetry", "?"));
    if (agg != NULL)
        snprintf(out, size, "%s(%s) %s %s over %s%s", agg, name, cli_str(c, "operator", "?"),
                 val ? val : "?", cli_str(c, "window", "?"),
                 strcmp(cli_str(c, "windowType", "tumbling"), "sliding") == 0 ? " sliding" : "");
    else
        snprintf(out, size, "%s %s %s", name, cli_str(c, "operator", "?"), val ? val : "?");
    free(val);
}

static void scope_text(const cJSON *r, char *out, size_t size)
{
    const cJSON *s = cJSON_GetObjectItem(r, "scope");
    const char *g = cli_str(s, "deviceGroup", NULL);
    if (g != NULL)
        snprintf(out, size, "group %s", g);
    else
        snprintf(out, size, "template %s", cli_str(s, "template", "?"));
}

static void print_rule(const cJSON *r)
{
    char cond[400], scope[600];
    condition_text(r, cond, sizeof cond);
    scope_text(r, scope, sizeof scope);
    printf("Rule:      %s\n", cli_str(r, "id", "?"));
    printf("Name:      %s\n", cli_str(r, "displayName", ""));
    printf("Enabled:   %s\n", cJSON_IsFalse(cJSON_GetObjectItem(r, "enabled")) ? "no" : "yes");
    printf("Scope:     %s\n", scope);
    printf("Condition: %s\n", cond);
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(r, "actions"))
    {
        if (strcmp(cli_str(a, "type", ""), "webhook") == 0)
            printf("Webhook:   %s\n", cli_str(a, "url", "?"));
    }
    printf("Fired:     %d device(s)\n",
           (int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "firedDevices")));
}

int cmd_rules_list(struct cli *c, int argc, char **argv)
{
    cJSON *all = NULL;
    int rc = cli_list(c, argc, argv, "/api/rules", "cannot list rules", &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const head[] = {"ID", "NAME", "ENABLED", "SCOPE", "CONDITION", "FIRED"};
    struct cli_table t;
    cli_table_init(&t, 6, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        char cond[400], scope[600], fired[24];
        condition_text(e, cond, sizeof cond);
        scope_text(e, scope, sizeof scope);
        snprintf(fired, sizeof fired, "%d",
                 (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "firedDevices")));
        const char *row[] = {cli_str(e, "id", "?"),
                             cli_str(e, "displayName", ""),
                             cJSON_IsFalse(cJSON_GetObjectItem(e, "enabled")) ? "no" : "yes",
                             scope,
                             cond,
                             fired};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, 60, "(no rules)");
    cJSON_Delete(all);
    return 0;
}

int cmd_rules_show(struct cli *c, int argc, char **argv)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one rule ID"};
    char path[600], what[600];
    cJSON *o = NULL;
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc == 0)
        rc = cli_id_path(c, "/api/rules", args.pos[0], "", path, sizeof path, "rule");
    if (rc == 0)
        rc = cli_setup(c);
    if (rc != 0)
        return rc;
    snprintf(what, sizeof what, "rule %s", args.pos[0]);
    rc = cli_show(c, path, what, &o);
    if (rc == 0 && o != NULL)
        print_rule(o);
    cJSON_Delete(o);
    return rc;
}

/* What create and update take. */
struct rule_opts {
    const char *name, *group, *tmpl, *telemetry, *component, *op, *value, *agg, *window, *wtype;
    bool enable, disable, no_webhooks;
    struct opt_list webhooks;
};

#define RULE_OPTS(r)                                                           \
    {"name", 0, OPT_STR, &(r).name, .arg = "NAME"},                            \
        {"group", 0, OPT_STR, &(r).group, .arg = "GROUP"},                     \
        {"template", 0, OPT_STR, &(r).tmpl, .arg = "TEMPLATE"},                \
        {"telemetry", 0, OPT_STR, &(r).telemetry, .arg = "NAME"},              \
        {"component", 0, OPT_STR, &(r).component, .arg = "NAME"},              \
        {"operator", 0, OPT_STR, &(r).op, .arg = "OP"},                        \
        {"value", 0, OPT_STR, &(r).value, .arg = "NUMBER"},                    \
        {"aggregation", 0, OPT_STR, &(r).agg, .arg = "avg|min|max|count|sum"}, \
        {"window", 0, OPT_STR, &(r).window, .arg = "DURATION"},                \
        {"window-type", 0, OPT_STR, &(r).wtype, .arg = "tumbling|sliding"},    \
        {"webhook", 0, OPT_LIST, &(r).webhooks, .arg = "URL"},                 \
        {"enable", 0, OPT_FLAG, &(r).enable, .help = "enabled"},               \
    {                                                                          \
        "disable", 0, OPT_FLAG, &(r).disable, .help = "disabled"               \
    }

/* Fill @p b from the options (members not given are left as they are). 0 or CLI_USAGE. */
static int apply_opts(struct cli *c, const struct rule_opts *r, cJSON *b)
{
    if (r->enable && r->disable)
        return cli_err(c, CLI_USAGE, "give --enable or --disable, not both");
    if (r->group != NULL && r->tmpl != NULL)
        return cli_err(c, CLI_USAGE, "give --group or --template, not both");
    if (r->name != NULL) {
        cJSON_DeleteItemFromObject(b, "displayName");
        cJSON_AddStringToObject(b, "displayName", r->name);
    }
    if (r->enable || r->disable) {
        cJSON_DeleteItemFromObject(b, "enabled");
        cJSON_AddBoolToObject(b, "enabled", r->enable);
    }
    if (r->group != NULL || r->tmpl != NULL) {
        cJSON_DeleteItemFromObject(b, "scope");
        cJSON *s = cJSON_AddObjectToObject(b, "scope");
        cJSON_AddStringToObject(s, r->group ? "deviceGroup" : "template",
                                r->group ? r->group : r->tmpl);
    }
    cJSON *cond = cJSON_GetObjectItem(b, "condition");
    if (cond == NULL)
        cond = cJSON_AddObjectToObject(b, "condition");
    const char *names[] = {"telemetry",   "component", "operator",
                           "aggregation", "window",    "windowType"};
    const char *vals[] = {r->telemetry, r->component, r->op, r->agg, r->window, r->wtype};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (vals[i] == NULL)
            continue;
        cJSON_DeleteItemFromObject(cond, names[i]);
        if (vals[i][0] != '\0') /* "" removes it: --aggregation "" */
            cJSON_AddStringToObject(cond, names[i], vals[i]);
    }
    if (r->agg != NULL && r->agg[0] == '\0') {
        cJSON_DeleteItemFromObject(cond, "window");
        cJSON_DeleteItemFromObject(cond, "windowType");
    }
    if (r->value != NULL) {
        char *end;
        double v = strtod(r->value, &end);
        if (end == r->value || *end != '\0')
            return cli_err(c, CLI_USAGE, "--value must be a number");
        cJSON_DeleteItemFromObject(cond, "value");
        cJSON_AddNumberToObject(cond, "value", v);
    }
    if (r->webhooks.n > 0 || r->no_webhooks) {
        cJSON_DeleteItemFromObject(b, "actions");
        cJSON *acts = cJSON_AddArrayToObject(b, "actions");
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "type", "alert");
        cJSON_AddItemToArray(acts, a);
        for (int i = 0; i < r->webhooks.n; i++) {
            a = cJSON_CreateObject();
            cJSON_AddStringToObject(a, "type", "webhook");
            cJSON_AddStringToObject(a, "url", r->webhooks.v[i]);
            cJSON_AddItemToArray(acts, a);
        }
    }
    return 0;
}

static int send_rule(struct cli *c, const char *method, const char *id, const cJSON *b,
                     const char *verb)
{
    char path[600], what[600];
    struct cli_resp resp;
    int rc = cli_id_path(c, "/api/rules", id, "", path, sizeof path, "rule");
    if (rc != 0)
        return rc;
    snprintf(what, sizeof what, "cannot %s rule %s", verb, id);
    rc = cli_send(c, method, path, b, 60, 200, true, what, &resp);
    if (rc != 0)
        return rc;
    if (cli_format() == CLI_FMT_JSON) {
        cli_print_json(resp.json);
    } else if (cli_format() == CLI_FMT_TSV) {
        cli_print_tsv_object(resp.json);
    } else {
        printf("%sd rule %s\n", verb, id);
        print_rule(resp.json);
    }
    cli_resp_free(&resp);
    return 0;
}

int cmd_rules_create(struct cli *c, int argc, char **argv)
{
    struct rule_opts r = {0};
    const struct opt o[] = {RULE_OPTS(r), {0}};
    struct cli_args args = {.min = 1, .max = 1, .usage = "one rule ID"};
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc == 0 && (r.telemetry == NULL || r.op == NULL || r.value == NULL))
        rc = cli_err(c, CLI_USAGE, "--telemetry, --operator and --value are required");
    if (rc == 0 && r.group == NULL && r.tmpl == NULL)
        rc = cli_err(c, CLI_USAGE, "give --group GROUP or --template TEMPLATE");
    cJSON *b = rc == 0 ? cJSON_CreateObject() : NULL;
    if (rc == 0 && b == NULL)
        rc = cli_err(c, CLI_API, "out of memory");
    if (rc == 0) {
        cJSON_AddStringToObject(b, "displayName", args.pos[0]);
        rc = apply_opts(c, &r, b);
    }
    if (rc == 0)
        rc = send_rule(c, "PUT", args.pos[0], b, "create");
    cJSON_Delete(b);
    opt_list_free(&r.webhooks);
    return rc;
}

int cmd_rules_update(struct cli *c, int argc, char **argv)
{
    struct rule_opts r = {0};
    const struct opt o[] = {
        RULE_OPTS(r),
        {"no-webhooks", 0, OPT_FLAG, &r.no_webhooks, .help = "remove the webhooks"},
        {0},
    };
    struct cli_args args = {.min = 1, .max = 1, .usage = "one rule ID"};
    char path[600], what[600];
    cJSON *cur = NULL, *patch = NULL;
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc == 0)
        rc = cli_id_path(c, "/api/rules", args.pos[0], "", path, sizeof path, "rule");
    if (rc == 0)
        rc = cli_setup(c);
    if (rc == 0) {
        /* the condition is one member: change it whole, from the rule as it is */
        snprintf(what, sizeof what, "rule %s", args.pos[0]);
        rc = cli_get(c, path, what, &cur);
    }
    if (rc == 0) {
        patch = cJSON_CreateObject();
        cJSON *cond = cJSON_Duplicate(cJSON_GetObjectItem(cur, "condition"), true);
        if (patch == NULL || cond == NULL) {
            cJSON_Delete(cond);
            rc = cli_err(c, CLI_API, "out of memory");
        } else {
            cJSON_AddItemToObject(patch, "condition", cond);
            rc = apply_opts(c, &r, patch);
        }
    }
    if (rc == 0)
        rc = send_rule(c, "PATCH", args.pos[0], patch, "update");
    cJSON_Delete(cur);
    cJSON_Delete(patch);
    opt_list_free(&r.webhooks);
    return rc;
}

int cmd_rules_delete(struct cli *c, int argc, char **argv)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one rule ID"};
    char path[600];
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc == 0)
        rc = cli_id_path(c, "/api/rules", args.pos[0], "", path, sizeof path, "rule");
    if (rc == 0)
        rc = cli_setup(c);
    return rc != 0 ? rc : cli_delete(c, path, "rule", args.pos[0]);
}

int cmd_rules_devices(struct cli *c, int argc, char **argv)
{
    long top = 0;
    const struct opt o[] = {{"top", 0, OPT_LONG, &top, 1, 1000000, .arg = "N"}, {0}};
    struct cli_args args = {.min = 1, .max = 1, .usage = "one rule ID"};
    char path[600], what[600];
    cJSON *all = NULL;
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc == 0)
        rc = cli_id_path(c, "/api/rules", args.pos[0], "/devices", path, sizeof path, "rule");
    if (rc != 0)
        return rc;
    snprintf(what, sizeof what, "cannot list the devices of rule %s", args.pos[0]);
    rc = cli_fetch(c, path, (size_t)top, what, &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const head[] = {"DEVICE", "STATE", "SINCE", "VALUE", "ALERT"};
    struct cli_table t;
    cli_table_init(&t, 5, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        char *val = cli_value_text(cJSON_GetObjectItem(e, "value"));
        const char *row[] = {cli_str(e, "deviceId", "?"), cli_str(e, "state", "?"),
                             cli_str(e, "since", "-"), val, cli_str(e, "alertId", "-")};
        cli_table_add(&t, row);
        free(val);
    }
    cli_table_print(&t, 60, "(no device has sent the rule's telemetry yet)");
    cJSON_Delete(all);
    return 0;
}

/* ---------------------------------------------------------------- alerts */

int cmd_alerts_list(struct cli *c, int argc, char **argv)
{
    long top = 0;
    const char *rule = NULL, *device = NULL, *state = NULL;
    const struct opt o[] = {
        {"top", 0, OPT_LONG, &top, 1, 1000000, .arg = "N"},
        {"rule", 0, OPT_STR, &rule, .arg = "RULE"},
        {"device", 0, OPT_STR, &device, .arg = "DEVICE"},
        {"state", 0, OPT_STR, &state, .arg = "active|cleared"},
        {0},
    };
    struct cli_args args = {.min = 0, .max = 0};
    char path[1400], enc[400];
    cJSON *all = NULL;
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    if (state != NULL && strcmp(state, "active") != 0 && strcmp(state, "cleared") != 0)
        return cli_err(c, CLI_USAGE, "--state must be active or cleared");
    size_t n = (size_t)snprintf(path, sizeof path, "/api/alerts");
    const char *names[] = {"ruleId", "deviceId", "state"};
    const char *vals[] = {rule, device, state};
    for (size_t i = 0; i < 3; i++) {
        if (vals[i] == NULL)
            continue;
        if (cli_pct(vals[i], enc, sizeof enc) != 0)
            return cli_err(c, CLI_USAGE, "--%s is too long", i == 0 ? "rule" : "device");
        n += (size_t)snprintf(path + n, sizeof path - n, "%c%s=%s", strchr(path, '?') ? '&' : '?',
                              names[i], enc);
    }
    rc = cli_fetch(c, path, (size_t)top, "cannot list alerts", &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const head[] = {"ID",    "RULE",  "DEVICE",  "STATE",
                                       "VALUE", "FIRED", "CLEARED", "ACK"};
    struct cli_table t;
    cli_table_init(&t, 8, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        char *val = cli_value_text(cJSON_GetObjectItem(e, "value"));
        const char *row[] = {cli_str(e, "id", "?"),
                             cli_str(e, "ruleId", "?"),
                             cli_str(e, "deviceId", "?"),
                             cli_str(e, "state", "?"),
                             val,
                             cli_str(e, "firedAt", "-"),
                             cli_str(e, "clearedAt", "-"),
                             cJSON_IsTrue(cJSON_GetObjectItem(e, "acknowledged")) ? "yes" : "no"};
        cli_table_add(&t, row);
        free(val);
    }
    cli_table_print(&t, 60, "(no alerts)");
    cJSON_Delete(all);
    return 0;
}

int cmd_alerts_ack(struct cli *c, int argc, char **argv)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one alert ID"};
    char path[600], what[600];
    struct cli_resp resp;
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc == 0)
        rc = cli_id_path(c, "/api/alerts", args.pos[0], "/acknowledge", path, sizeof path, "alert");
    if (rc != 0)
        return rc;
    snprintf(what, sizeof what, "cannot acknowledge alert %s", args.pos[0]);
    rc = cli_send(c, "POST", path, NULL, 60, 200, true, what, &resp);
    if (rc != 0)
        return rc;
    if (cli_format() == CLI_FMT_JSON)
        cli_print_json(resp.json);
    else if (cli_format() == CLI_FMT_TSV)
        cli_print_tsv_object(resp.json);
    else
        printf("acknowledged alert %s\n", args.pos[0]);
    cli_resp_free(&resp);
    return 0;
}
