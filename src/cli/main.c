/*
 * main.c - iotc, the operator CLI for iotc-central's IoT Central-shaped REST API
 * (docs/API.md, docs/CLI.md): dispatch of `iotc GROUP [VERB] ...`, help texts, exit codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"

struct cmd {
    const char *group;
    const char *verb; /* NULL: the group is the command (raw, conformance) */
    int (*fn)(struct cli *c, int argc, char **argv);
    const char *usage;
    const char *help;
};

static const struct cmd cmds[] = {
    {"templates", "import", cmd_templates_import,
     "templates import FILE [--id ID] [--views FILE] [--name NAME] [--publish]",
     "Create or replace a device template from a model file: a DTDL v2 interface (or array),\n"
     "a DTDL v1 capability model, or a template exported by `templates export` (views and\n"
     "customizations included). FILE \"-\" reads standard input.\n"
     "  --id ID           template id (default: the file's \"@id\")\n"
     "  --views FILE      add the views (and \"customizations\") in FILE: a JSON array of views,\n"
     "                    or an object {\"views\":[...],\"customizations\":{...}}; a view with "
     "the\n"
     "                    id of a generated one (overview, about) replaces it\n"
     "  --name NAME       display name of the template\n"
     "  --publish         publish the template afterwards\n"},
    {"templates", "list", cmd_templates_list, "templates list [--top N]",
     "List the device templates.\n"
     "  --top N           at most N templates\n"},
    {"templates", "show", cmd_templates_show, "templates show ID",
     "Show a template: capabilities, views, customizations.\n"},
    {"templates", "export", cmd_templates_export, "templates export ID [-o FILE]",
     "Write a template (model, views, customizations, published flag) as JSON that\n"
     "`templates import` accepts unchanged; read-only fields are left out.\n"
     "  -o, --output FILE write to FILE instead of standard output\n"},
    {"templates", "publish", cmd_templates_publish, "templates publish ID",
     "Publish a template (devices that announce its model id get associated with it).\n"},
    {"templates", "delete", cmd_templates_delete, "templates delete ID",
     "Delete a device template (the server refuses while devices use it).\n"},
    {"devices", "create", cmd_devices_create,
     "devices create ID [--template ID] [--name NAME] [--simulated]",
     "Create a device. For an existing device, change only what is given (name, template,\n"
     "simulated); its keys stay.\n"
     "  --template ID     associate with this template (default: unassociated)\n"
     "  --name NAME       display name (default: the device id)\n"
     "  --simulated       mark the device simulated\n"},
    {"devices", "list", cmd_devices_list, "devices list [--top N] [--filter EXPR] [--orderby EXPR]",
     "List devices with template, status, connection and last activity.\n"
     "  --top N           at most N devices\n"
     "  --filter EXPR     the API's $filter, e.g. \"contains(displayName, 'thermo') and\n"
     "                    enabled eq true\" (docs/API.md, \"List devices\")\n"
     "  --orderby EXPR    the API's $orderby: displayName [asc|desc]\n"},
    {"devices", "show", cmd_devices_show, "devices show ID", "Show one device.\n"},
    {"devices", "credentials", cmd_devices_credentials, "devices credentials ID [--env]",
     "Show what the device needs to connect: ID scope, device id, keys (and, with --data-dir,\n"
     "the DPS endpoint and CA file).\n"
     "  --env             print them as shell assignments of the variables environmental-sensor\n"
     "                    reads (IOTHUB_DEVICE_DPS_ID_SCOPE, ..._DEVICE_ID, ..._DEVICE_KEY,\n"
     "                    ..._ENDPOINT, IOTC_CA_FILE)\n"},
    {"devices", "attestation", cmd_devices_attestation,
     "devices attestation show ID | set ID (--cert FILE [--secondary-cert FILE] | --ca | --sas)",
     "Show or set how a device authenticates. --cert: X.509 with this client certificate\n"
     "(selfSigned: its thumbprint is registered; PEM or base64 DER file), --secondary-cert a\n"
     "second one; --ca: X.509 with any certificate whose CN is the device id and which chains\n"
     "to a verified CA; --sas: back to symmetric keys.\n"},
    {"devices", "block", cmd_devices_block, "devices block ID",
     "Block a device: its connection is closed and DPS and the hub refuse it.\n"},
    {"devices", "unblock", cmd_devices_unblock, "devices unblock ID", "Unblock a device.\n"},
    {"devices", "delete", cmd_devices_delete, "devices delete ID",
     "Delete a device with its twin, queued messages and history.\n"},
    {"devices", "update", cmd_devices_update,
     "devices update ID [--name NAME] [--enabled true|false]",
     "Change a device's display name and/or whether it is enabled (PATCH; the rest stays).\n"
     "  --name NAME       new display name\n"
     "  --enabled B       false blocks the device (as `devices block`), true unblocks it\n"},
    {"devices", "compute-key", cmd_devices_compute_key,
     "devices compute-key ID [--key GROUPKEY | --group ID]",
     "The SAS key of device ID derived from an enrollment group key (HMAC-SHA256 of the id),\n"
     "as `az iot central device compute-device-key` computes it; printed alone on stdout\n"
     "(--json: primary and secondary). A device given this key provisions through DPS.\n"
     "  --key GROUPKEY    derive from this group key, offline (no server needed)\n"
     "  --group ID        derive from this group's keys on the server (default\n"
     "                    SAS-IoT-Devices; needs an administrator token)\n"},
    {"devices", "compute-device-key", cmd_devices_compute_key,
     "devices compute-device-key ID [--key GROUPKEY | --group ID]",
     "The same as `devices compute-key` (the name az uses).\n"},
    {"enrollment-groups", "list", cmd_groups_list, "enrollment-groups list [--top N]",
     "List the enrollment groups (administrators only).\n"},
    {"enrollment-groups", "show", cmd_groups_show, "enrollment-groups show ID",
     "Show an enrollment group with its keys.\n"},
    {"enrollment-groups", "create", cmd_groups_create,
     "enrollment-groups create ID [--name NAME] [--type iot|iotEdge] [--enabled true|false]\n"
     "                             [--primary-key KEY --secondary-key KEY] [--attestation x509]",
     "Create (or replace) an enrollment group. SAS (the default): without keys the server\n"
     "generates them; devices whose key is derived from an enabled group's key provision\n"
     "through DPS. X.509: --attestation x509, then `enrollment-groups certificate`.\n"
     "  --attestation A   symmetricKey (default) or x509\n"
     "  --name NAME       display name (default: the id)\n"
     "  --type TYPE       iot (default) or iotEdge\n"
     "  --enabled B       true (default) or false\n"
     "  --primary-key KEY, --secondary-key KEY  base64 keys (16..64 bytes)\n"},
    {"enrollment-groups", "update", cmd_groups_update,
     "enrollment-groups update ID [--name NAME] [--type T] [--enabled true|false]\n"
     "                             [--primary-key KEY --secondary-key KEY]",
     "Change what is given; a disabled group provisions no device (those it provisioned keep\n"
     "connecting with their keys).\n"},
    {"enrollment-groups", "delete", cmd_groups_delete, "enrollment-groups delete ID",
     "Delete an enrollment group.\n"},
    {"enrollment-groups", "regenerate-key", cmd_groups_regenerate_key,
     "enrollment-groups regenerate-key ID [--key primary|secondary]",
     "Replace the group's primary (default) or secondary key with a new random one. Devices\n"
     "already provisioned keep their keys; new registrations need the new one.\n"},
    {"enrollment-groups", "certificate", cmd_groups_certificate,
     "enrollment-groups certificate set GROUP FILE | show GROUP | verify-code GROUP |\n"
     "                             verify GROUP FILE | delete GROUP  [--entry primary|secondary]",
     "The CA certificates of an X.509 enrollment group (create it with --attestation x509).\n"
     "set uploads a CA (PEM or base64 DER file; unverified until proven); verify-code prints a\n"
     "new verification code alone on stdout; verify uploads the proof: a certificate whose CN\n"
     "is the code, signed with the CA's key (`iotc-central certs verify-code`). Devices whose\n"
     "certificate chains to a verified CA (CN = registration id) then provision through DPS.\n"
     "  --entry E         primary (default) or secondary\n"},
    {"device-groups", "list", cmd_devgroups_list, "device-groups list [--top N]",
     "List the device groups.\n"},
    {"device-groups", "show", cmd_devgroups_show, "device-groups show ID",
     "Show a device group.\n"},
    {"device-groups", "create", cmd_devgroups_create,
     "device-groups create ID [--template TEMPLATE] [--provisioned true|false] [--name NAME]\n"
     "                         [--filter QUERY] [--description TEXT]",
     "Create (or replace) a device group. Its filter is IoT Central's form,\n"
     "SELECT * FROM devices WHERE $template = \"dtmi:...\" AND $provisioned = true: give it\n"
     "with --filter, or let --template and --provisioned build it. Members follow the filter\n"
     "as devices change.\n"},
    {"device-groups", "delete", cmd_devgroups_delete, "device-groups delete ID",
     "Delete a device group (its devices stay).\n"},
    {"device-groups", "devices", cmd_devgroups_devices, "device-groups devices ID [--top N]",
     "List the devices the group's filter selects now.\n"},
    {"jobs", "list", cmd_jobs_list, "jobs list [--top N]", "List the jobs with their status.\n"},
    {"jobs", "show", cmd_jobs_show, "jobs show ID", "Show a job, its status and progress.\n"},
    {"jobs", "create", cmd_jobs_create,
     "jobs create ID --group GROUP --template TEMPLATE (--property NAME=VALUE | --command NAME\n"
     "            [--request JSON]) [--batch N|N%] [--cancel-threshold N|N%] [--name NAME]",
     "Create and start a job on the group's devices (the members when it starts): write a\n"
     "property (VALUE is JSON when it parses as JSON) or run a command. --batch bounds how\n"
     "many devices run at once; --cancel-threshold cancels the job after that many failures.\n"},
    {"jobs", "devices", cmd_jobs_devices, "jobs devices ID",
     "Each device of the job with its status (pending, running, completed, failed,\n"
     "cancelled) and why it failed.\n"},
    {"jobs", "stop", cmd_jobs_stop, "jobs stop ID",
     "Stop a running job (devices in flight finish; no new ones start).\n"},
    {"jobs", "resume", cmd_jobs_resume, "jobs resume ID", "Resume a stopped job.\n"},
    {"jobs", "rerun", cmd_jobs_rerun, "jobs rerun ID RERUN_ID",
     "Start job RERUN_ID over the devices that failed or were cancelled in job ID.\n"},
    {"rules", "list", cmd_rules_list, "rules list [--top N]",
     "List the rules (iotc's own; IoT Central has no rules API) with how many devices fired.\n"},
    {"rules", "show", cmd_rules_show, "rules show ID", "Show a rule.\n"},
    {"rules", "create", cmd_rules_create,
     "rules create ID (--group GROUP | --template TEMPLATE) --telemetry NAME --operator OP\n"
     "             --value NUMBER [--aggregation avg|min|max|count|sum --window DURATION\n"
     "             [--window-type tumbling|sliding]] [--component NAME] [--webhook URL]...\n"
     "             [--name NAME] [--disable]",
     "Create (or replace) a rule: it fires once per device when the condition becomes true\n"
     "(an alert, and a POST to each --webhook) and clears when it becomes false. OP is one\n"
     "of < <= > >= == !=; DURATION is ISO 8601 (PT5M). With --aggregation the condition is\n"
     "on the aggregate over the window, per device.\n"},
    {"rules", "update", cmd_rules_update,
     "rules update ID [the options of create] [--enable | --disable] [--no-webhooks]",
     "Change a rule: only what is given changes (a changed scope or condition starts every\n"
     "device over; --webhook replaces the webhooks, --no-webhooks removes them).\n"},
    {"rules", "delete", cmd_rules_delete, "rules delete ID",
     "Delete a rule (its active alerts are closed; the alerts stay listed).\n"},
    {"rules", "devices", cmd_rules_devices, "rules devices ID [--top N]",
     "The rule's state per device (fired or normal), since when, and the last value.\n"},
    {"alerts", "list", cmd_alerts_list,
     "alerts list [--rule RULE] [--device DEVICE] [--state active|cleared] [--top N]",
     "The alerts rules raised, newest first.\n"},
    {"alerts", "ack", cmd_alerts_ack, "alerts ack ID", "Acknowledge an alert.\n"},
    {"properties", "get", cmd_properties_get, "properties get DEVICE [--component NAME]",
     "Show reported and writable properties with their sync state (pending, synced, failed).\n"
     "  --component NAME  only the properties of that component\n"},
    {"properties", "set", cmd_properties_set,
     "properties set DEVICE NAME=VALUE... [--component NAME] [--no-wait] [--timeout S]",
     "Write writable properties. VALUE is JSON when it parses as JSON (2, true, \"x\", {...}),\n"
     "otherwise a string. An offline device is reported at once (\"queued: the device is\n"
     "offline; ...\"); the write waits for it. Waits until the device acknowledges every value\n"
     "(synced); exits 2 when the device rejects one (failed), 4 when the wait times out.\n"
     "  --component NAME  properties of that component\n"
     "  --wait            wait until synced (the default)\n"
     "  --no-wait         return once the server accepted the write (state pending)\n"
     "  --timeout S       seconds to wait (default 30)\n"},
    {"command", "run", cmd_command_run,
     "command run DEVICE NAME [--request JSON] [--component NAME] [--response-timeout S]\n"
     "                             [--connect-timeout S] [--wait] [--timeout S]",
     "Run a command and print the device's response. An asynchronous command (the device\n"
     "answers 202) is reported as pending; with --wait the CLI waits for its completion.\n"
     "A command the device answered with an error code exits 2; no answer in time exits 4.\n"
     "  --request JSON        request payload (JSON: 2, \"text\", {...})\n"
     "  --component NAME      command of that component\n"
     "  --response-timeout S  seconds the device has to answer (5..30, server default 30)\n"
     "  --connect-timeout S   seconds to wait for an offline device to connect (0..30)\n"
     "  --wait                for an asynchronous command, wait until it completes\n"
     "  --timeout S           how long --wait waits (default 60)\n"},
    {"command", "history", cmd_command_history,
     "command history DEVICE [NAME] [--component NAME] [--top N]",
     "Show the commands run on a device (all of them, or those named NAME), oldest first.\n"},
    {"telemetry", "tail", cmd_telemetry_tail,
     "telemetry tail DEVICE [--count N] [--timeout S] [--all]",
     "Follow the device's live events (telemetry; with --all also properties, desired\n"
     "patches, commands, connection changes) until Ctrl-C.\n"
     "  --count N         stop after N events (exit 4, \"timed out\", if the timeout comes first)\n"
     "  --timeout S       stop after S seconds\n"
     "  --all             every event kind, not only telemetry\n"},
    {"telemetry", "query", cmd_telemetry_query,
     "telemetry query DEVICE NAME [--from T] [--to T] [--top N] [--component NAME]",
     "Telemetry values of one name in a time range, oldest first, each checked against the\n"
     "template. T is RFC 3339 (2026-11-26T08:00:00Z) or relative (-30s, -10m, -2h, -1d, now).\n"
     "A name the device never sent exits 3, as `telemetry last` does.\n"
     "  --top N           at most N values\n"},
    {"telemetry", "last", cmd_telemetry_last, "telemetry last DEVICE NAME [--component NAME]",
     "The last known value of one telemetry name.\n"},
    {"raw", NULL, cmd_raw, "raw DEVICE [--from T] [--to T] [--top N]",
     "Everything the device sent, as received (telemetry, property reports, connects and\n"
     "disconnects), with the fields the template does not model (unmodeled) and schema errors.\n"},
    {"conformance", NULL, cmd_conformance, "conformance DEVICE",
     "What the device did compared with its template: each capability's status and every\n"
     "mismatch (unmodeled telemetry, wrong schema, missing acks, failed commands...).\n"
     "Exits 0 when the device is conformant, 2 when it is not (the report is printed either\n"
     "way).\n"},
    {"stats", NULL, cmd_stats, "stats",
     "The server's counters of the device-to-cloud path (administrators): messages parsed,\n"
     "handed to the store, committed, PUBACKs released, commits and rows per commit, the\n"
     "hand-off queue, wake-ups, time in commit. Counted since the server started.\n"},
    {"tokens", "create", cmd_tokens_create,
     "tokens create ID [--role operator|administrator] [--expiry T]",
     "Create an API token (administrators only). The token text is printed once, alone on\n"
     "standard output: T=$(iotc tokens create ci --role operator); iotc --token \"$T\" ...\n"
     "  --role ROLE       operator (default) or administrator\n"
     "  --expiry T        RFC 3339 expiry (default: one year)\n"},
    {"tokens", "list", cmd_tokens_list, "tokens list",
     "List the API tokens (without their text).\n"},
    {"tokens", "show", cmd_tokens_show, "tokens show ID",
     "Show one API token: role and expiry (not its text).\n"},
    {"tokens", "delete", cmd_tokens_delete, "tokens delete ID",
     "Delete an API token; it stops working at once.\n"},
    {"destinations", "put", cmd_destinations_put,
     "destinations put ID (--body JSON | --file FILE) [--patch]",
     "Create or replace a data export destination (administrators only; docs/EXPORT.md):\n"
     "webhook@v1, eventhubs@v1 or kafka@v1. Prints its status.\n"
     "  --body JSON       the definition, e.g. {\"displayName\":\"Hook\",\"type\":\"webhook@v1\",\n"
     "                    "
     "\"url\":\"https://...\",\"authorization\":{\"type\":\"header\",\"value\":\"...\"}}\n"
     "  --file FILE       the definition from a file\n"
     "  --patch           change only the members given\n"},
    {"destinations", "list", cmd_destinations_list, "destinations list",
     "List the data export destinations with their status.\n"},
    {"destinations", "show", cmd_destinations_show, "destinations show ID",
     "Show one destination (secrets masked).\n"},
    {"destinations", "delete", cmd_destinations_delete, "destinations delete ID",
     "Delete a destination no export uses.\n"},
    {"exports", "put", cmd_exports_put, "exports put ID (--body JSON | --file FILE) [--patch]",
     "Create or replace a data export (administrators only; docs/EXPORT.md): source\n"
     "(telemetry, properties, deviceConnectivity, deviceLifecycle, deviceTemplateLifecycle),\n"
     "filter, enrichments, destinations, enabled.\n"
     "  --body JSON       the definition, e.g. {\"displayName\":\"All\",\"source\":\"telemetry\",\n"
     "                    \"destinations\":[{\"id\":\"hook\"}]}\n"
     "  --file FILE       the definition from a file\n"
     "  --patch           change only the members given (e.g. {\"enabled\":false})\n"},
    {"exports", "list", cmd_exports_list, "exports list",
     "List the exports: status, messages delivered and refused, lag (messages and seconds)\n"
     "and the last error.\n"},
    {"exports", "show", cmd_exports_show, "exports show ID",
     "Show one export with its status, stats and last errors.\n"},
    {"exports", "delete", cmd_exports_delete, "exports delete ID",
     "Delete an export (its cursors go with it).\n"},
};

#define NCMDS (sizeof cmds / sizeof cmds[0])

static const char global_help[] =
    "Global options (anywhere on the command line):\n"
    "  --server URL      iotc-central's HTTPS address (env IOTC_SERVER), e.g. "
    "https://localhost:8443\n"
    "  --token TOKEN     API token, or the admin token printed by `iotc-central init`\n"
    "                    (env IOTC_TOKEN)\n"
    "  --ca-file FILE    CA certificates to trust (env IOTC_CA_FILE; default: the system store)\n"
    "  --data-dir DIR    a local iotc-central data dir (env IOTC_DATA_DIR): the server address\n"
    "                    comes from DIR/ports.json, the CA from DIR/ca.pem and the token from\n"
    "                    DIR/admin-token (first line) unless given otherwise\n"
    "  -o, --output FMT  json (the API's JSON; a list as {\"value\": [...]} with the pages\n"
    "                    merged), table (the default) or tsv (tab-separated rows, no header)\n"
    "  --json            the same as -o json\n"
    "  -v, --verbose     print requests on stderr (twice: libcurl's trace)\n"
    "  -h, --help        help (also after any command)\n"
    "  --version         print the version\n"
    "\n"
    "Exit codes:\n"
    "  0  ok\n"
    "  1  usage error (bad command line, missing server or file)\n"
    "  2  server or API error (the API's error code and message are printed), server not\n"
    "     reachable, or the device reported a failure (property rejected, command error) or\n"
    "     failed a check (conformance: not conformant)\n"
    "  3  not found (device, template, capability, telemetry)\n"
    "  4  timed out, or still pending when the wait ended\n"
    "  5  authentication or authorization failed (no token, bad token, role not allowed)\n"
    "  (0, 1 and 2 mean the same for every iotc program: docs/CLI.md, \"Exit codes\")\n";

static void usage_all(FILE *out)
{
    fprintf(out, "usage: iotc [global options] COMMAND ...\n\n"
                 "Operate an iotc-central application (docs/CLI.md).\n\nCommands:\n");
    for (size_t i = 0; i < NCMDS; i++)
        fprintf(out, "  iotc %s\n", cmds[i].usage);
    fprintf(out, "\n%s", global_help);
}

void cli_help(const char *group, const char *verb)
{
    bool any = false;
    for (size_t i = 0; i < NCMDS; i++) {
        if (strcmp(cmds[i].group, group) != 0)
            continue;
        if (verb != NULL && (cmds[i].verb == NULL || strcmp(cmds[i].verb, verb) != 0))
            continue;
        printf("%susage: iotc %s\n\n%s", any ? "\n" : "", cmds[i].usage, cmds[i].help);
        any = true;
    }
    if (any)
        printf("\nGlobal options: --server URL, --token TOKEN, --ca-file FILE, --data-dir DIR,\n"
               "-o json|table|tsv, --json, -v; exit codes 0 ok, 1 usage, 2 API error, 3 not found, "
               "4 timeout or\n"
               "pending, 5 auth (see iotc --help).\n");
}

static const char version_text[] = IOTC_VERSION " (api-version " CLI_API_VERSION ")";

static void help_all(const struct opt_prog *p)
{
    (void)p;
    usage_all(stdout);
}

static void help_group(const struct opt_prog *p)
{
    const struct cmd *k = p->user;
    cli_help(k->group, NULL);
}

static void help_cmd(const struct opt_prog *p)
{
    const struct cmd *k = p->user;
    cli_help(k->group, k->verb);
}

int main(int argc, char **argv)
{
    struct cli c;
    memset(&c, 0, sizeof c);
    c.prog = "iotc";
    struct opt globals[CLI_GLOBAL_OPTS];
    cli_global_opts(&c, globals);
    /* Global options may come before the command: the command word is the first argument. */
    int i = 1 + opt_first_arg(globals, argc - 1, argv + 1);
    if (i >= argc) {
        const struct opt_prog p = {.name = "iotc", .help = help_all, .version = version_text};
        int rc = opt_parse(&p, globals, argc - 1, argv + 1, NULL);
        if (rc != OPT_CONTINUE)
            return rc;
        usage_all(stderr);
        return CLI_USAGE;
    }
    const char *group = argv[i++];
    const struct cmd *g = NULL;
    for (size_t k = 0; k < NCMDS && g == NULL; k++) {
        if (strcmp(cmds[k].group, group) == 0)
            g = &cmds[k];
    }
    const struct opt_prog top = {.name = "iotc", .version = version_text};
    if (g == NULL)
        return opt_error(&top, "unknown command '%s'", group);
    const char *verb = NULL;
    char prog[64];
    snprintf(prog, sizeof prog, "iotc %s", group);
    if (g->verb != NULL) {
        i += opt_first_arg(globals, argc - i, argv + i);
        if (i >= argc) {
            const struct opt_prog p = {
                .name = prog, .help = help_group, .user = (void *)g, .version = version_text};
            int rc = opt_builtin(&p, globals, argc - 1, argv + 1);
            if (rc != OPT_CONTINUE)
                return rc;
            return opt_error(&p, "which one?");
        }
        verb = argv[i++];
        const struct cmd *hit = NULL;
        for (size_t k = 0; k < NCMDS && hit == NULL; k++) {
            if (strcmp(cmds[k].group, group) == 0 && strcmp(cmds[k].verb, verb) == 0)
                hit = &cmds[k];
        }
        if (hit == NULL) {
            const struct opt_prog p = {.name = prog};
            return opt_error(&p, "unknown subcommand '%s'", verb);
        }
        g = hit;
        snprintf(prog, sizeof prog, "iotc %s %s", group, verb);
    }
    c.prog = prog;

    /* The command sees the global options given before it too. */
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (args == NULL)
        return CLI_API;
    int k = 0;
    for (int j = 1; j < argc; j++) {
        if (argv[j] != group && (verb == NULL || argv[j] != verb))
            args[k++] = argv[j];
    }
    const struct opt_prog p = {
        .name = prog, .help = help_cmd, .user = (void *)g, .version = version_text};
    int rc = opt_builtin(&p, globals, k, args);
    if (rc == OPT_CONTINUE)
        rc = g->fn(&c, k, args);
    free(args);
    if (c.curl != NULL) {
        curl_easy_cleanup(c.curl);
        curl_global_cleanup();
    }
    return rc;
}
