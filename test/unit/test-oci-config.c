/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OCI config.json reader (src/shared/oci-config.c): a runc-style spec read into its
 * fields, and bad configs rejected with one message naming the field. */

#include <errno.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "oci-config.h"
#include "seccomp-oci.h"
#include "string-util.h"
#include "tap.h"

#define MINIMAL_PROCESS "\"process\": { \"args\": [\"sh\"], \"cwd\": \"/\" }"

static const char full[] =
        "{ \"ociVersion\": \"1.0.2-dev\",\n"
        "  \"process\": { \"terminal\": true, \"user\": { \"uid\": 1000, \"gid\": 100, \"additionalGids\": [5, 6] },\n"
        "       \"args\": [\"sh\", \"-c\", \"echo hi\"], \"env\": [\"PATH=/bin\", \"TERM=xterm\"], \"cwd\": \"/tmp\",\n"
        "       \"capabilities\": { \"bounding\": [\"CAP_KILL\", \"CAP_CHOWN\"], \"effective\": [\"CAP_KILL\"] },\n"
        "       \"rlimits\": [ { \"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 512 } ],\n"
        "       \"noNewPrivileges\": true, \"oomScoreAdj\": 100 },\n"
        "  \"root\": { \"path\": \"rootfs\", \"readonly\": true },\n"
        "  \"hostname\": \"box\",\n"
        "  \"mounts\": [ { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },\n"
        "              { \"destination\": \"/data\", \"source\": \"/srv\", \"options\": [\"rbind\", \"ro\"] } ],\n"
        "  \"linux\": { \"namespaces\": [ {\"type\": \"pid\"}, {\"type\": \"network\", \"path\": \"/proc/1/ns/net\"} ],\n"
        "       \"cgroupsPath\": \"/berth/test\", \"maskedPaths\": [\"/proc/kcore\"], \"readonlyPaths\": [\"/proc/sys\"],\n"
        "       \"resources\": { \"memory\": { \"limit\": 67108864 }, \"pids\": { \"limit\": 32 },\n"
        "                      \"cpu\": { \"quota\": 50000, \"period\": 100000 } },\n"
        "       \"sysctl\": { \"net.ipv4.ip_forward\": \"1\" },\n"
        "       \"devices\": [ { \"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10, \"minor\": 229, \"fileMode\": 384,\n"
        "                      \"uid\": 1, \"gid\": 2 }, { \"path\": \"/dev/p\", \"type\": \"p\" } ] },\n"
        "  \"annotations\": { \"org.example\": \"yes\" } }\n";

static void test_full(void) {
        OciConfig c = {};
        char *error = NULL;

        CHECK(oci_config_parse(full, strlen(full), &c, &error) == 0);
        CHECK(!error);
        CHECK_STREQ(c.root_path, "rootfs");
        CHECK(c.root_readonly);
        CHECK(c.terminal);
        CHECK(strv_length(c.args) == 3);
        CHECK_STREQ(c.args[2], "echo hi");
        CHECK_STREQ(c.env[1], "TERM=xterm");
        CHECK_STREQ(c.cwd, "/tmp");
        CHECK(c.uid == 1000 && c.gid == 100);
        CHECK(c.n_additional_gids == 2 && c.additional_gids[1] == 6);
        CHECK(c.cap_bounding == ((UINT64_C(1) << CAP_KILL) | (UINT64_C(1) << CAP_CHOWN)));
        CHECK(c.cap_effective == (UINT64_C(1) << CAP_KILL));
        CHECK(c.n_rlimits == 1 && c.rlimits[0].resource == RLIMIT_NOFILE && c.rlimits[0].soft == 512);
        CHECK(c.no_new_privileges);
        CHECK(c.oom_score_adj_set && c.oom_score_adj == 100);
        CHECK_STREQ(c.hostname, "box");
        CHECK(c.n_mounts == 2);
        CHECK_STREQ(c.mounts[0].type, "proc");
        CHECK(!c.mounts[1].type);
        CHECK_STREQ(c.mounts[1].options[1], "ro");
        CHECK(c.namespaces[OCI_NS_PID].wanted && !c.namespaces[OCI_NS_PID].path);
        CHECK_STREQ(c.namespaces[OCI_NS_NETWORK].path, "/proc/1/ns/net");
        CHECK(!c.namespaces[OCI_NS_USER].wanted);
        CHECK_STREQ(c.cgroups_path, "/berth/test");
        CHECK(c.resources.memory_limit_set && c.resources.memory_limit == 67108864);
        CHECK(c.resources.pids_limit_set && c.resources.pids_limit == 32);
        CHECK(c.resources.cpu_quota == 50000 && c.resources.cpu_period == 100000);
        CHECK(!c.resources.cpu_shares_set);
        CHECK_STREQ(c.masked_paths[0], "/proc/kcore");
        CHECK_STREQ(c.readonly_paths[0], "/proc/sys");
        CHECK_STREQ(c.sysctl[0], "net.ipv4.ip_forward=1");
        CHECK(c.n_devices == 2);
        CHECK_STREQ(c.devices[0].path, "/dev/fuse");
        CHECK(c.devices[0].type == S_IFCHR && c.devices[0].major == 10 && c.devices[0].minor == 229);
        CHECK(c.devices[0].mode == 0600 && c.devices[0].uid == 1 && c.devices[0].gid == 2);
        CHECK(c.devices[1].type == S_IFIFO && c.devices[1].mode == 0666);
        CHECK_STREQ(c.annotations[0], "org.example=yes");
        oci_config_done(&c);
}

/* Each bad config names its field. */
static void test_errors(void) {
        static const struct {
                const char *json;
                const char *error;
        } cases[] = {
                { "", "config.json: not valid JSON at byte 0: continue" },
                { "[]", "config.json: expected object, got array" },
                { "{ \"ociVersion\": \"1.0.0\" } x", "config.json: not valid JSON at byte 26: trailing data" },
                { "{ \"root\": {\"path\": \"r\"} }", "ociVersion: missing" },
                { "{ \"ociVersion\": \"2.0\" }", "ociVersion: version '2.0' is not supported (1.x is)" },
                { "{ \"ociVersion\": \"1.0\", " MINIMAL_PROCESS " }", "root: missing" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": 3}, " MINIMAL_PROCESS " }",
                  "root.path: expected string, got int" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, \"process\": { \"args\": [\"a\", 1], \"cwd\": \"/\" } }",
                  "process.args[1]: expected string, got int" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, \"process\": { \"args\": [], \"cwd\": \"/\" } }",
                  "process.args: empty" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, \"process\": { \"args\": [\"a\"], \"cwd\": \"tmp\" } }",
                  "process.cwd: 'tmp' is not an absolute path" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, \"process\": { \"args\": [\"a\"], \"cwd\": \"/\", "
                  "\"user\": { \"uid\": -1 } } }",
                  "process.user.uid: out of range" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, \"process\": { \"args\": [\"a\"], \"cwd\": \"/\", "
                  "\"capabilities\": { \"bounding\": [\"CAP_FLY\"] } } }",
                  "process.capabilities.bounding[0]: unknown capability 'CAP_FLY'" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", "
                  "\"mounts\": [ { \"destination\": \"/a\" }, { \"destination\": \"b\" } ] }",
                  "mounts[1].destination: 'b' is not an absolute path" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", "
                  "\"linux\": { \"namespaces\": [ { \"type\": \"pid\" }, { \"type\": \"bogus\" } ] } }",
                  "linux.namespaces[1]: unknown namespace type 'bogus'" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", "
                  "\"linux\": { \"resources\": { \"memory\": { \"limit\": \"lots\" } } } }",
                  "linux.resources.memory.limit: expected int, got string" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", "
                  "\"linux\": { \"devices\": [ { \"path\": \"/dev/x\", \"type\": \"b\", \"major\": 8 } ] } }",
                  "linux.devices[0]: missing 'minor'" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", "
                  "\"linux\": { \"devices\": [ { \"path\": \"/dev/x\", \"type\": \"q\" } ] } }",
                  "linux.devices[0]: unknown device type 'q'" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", "
                  "\"linux\": { \"uidMappings\": [ { \"containerID\": 0, \"hostID\": 1000 } ] } }",
                  "linux.uidMappings[0]: missing 'size'" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", "
                  "\"linux\": { \"gidMappings\": [ { \"containerID\": 0, \"hostID\": 4294967295, \"size\": 2 } ] } }",
                  "linux.gidMappings[0]: the range goes past ID 4294967294" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", "
                  "\"mounts\": [ { \"destination\": \"/a\", \"uidMappings\": [ { \"containerID\": 0, \"hostID\": 1, "
                  "\"size\": 1, \"extra\": 1 } ] } ] }",
                  "mounts[0].uidMappings[0].extra: not supported by berth" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", \"linux\": { \"intelRdt\": {} } }",
                  "linux.intelRdt: not supported by berth" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", "
                  "\"hooks\": { \"prestart\": [ { \"path\": \"/bin/true\" }, { \"path\": \"true\" } ] } }",
                  "hooks.prestart[1].path: 'true' is not an absolute path" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", "
                  "\"hooks\": { \"poststop\": [ { \"path\": \"/bin/true\", \"timeout\": 0 } ] } }",
                  "hooks.poststop[0].timeout: must be greater than zero" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", "
                  "\"hooks\": { \"createRuntime\": [ { \"path\": \"/x\", \"env\": [\"NOEQUALS\"] } ] } }",
                  "hooks.createRuntime[0].env: 'NOEQUALS' is not NAME=VALUE" },
                { "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", "
                  "\"hooks\": { \"prestop\": [] } }",
                  "hooks.prestop: not supported by berth" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                OciConfig c = {};
                char *error = NULL;

                CHECK(oci_config_parse(cases[i].json, strlen(cases[i].json), &c, &error) == -EINVAL);
                CHECK_STREQ(error, cases[i].error);
                free(error);
        }
}

static void test_hooks(void) {
        static const char text[] =
                "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ", \"hooks\": {"
                "  \"prestart\": [ { \"path\": \"/a\" }, { \"path\": \"/b\", \"args\": [\"b0\", \"x\"] } ],"
                "  \"startContainer\": [ { \"path\": \"/c\", \"env\": [\"K=V\"], \"timeout\": 7 } ],"
                "  \"poststop\": [ { \"path\": \"/d\", \"timeout\": 3 } ], \"poststart\": [] } }";
        _cleanup_free_ char *json = NULL;
        OciConfig c = {};
        OciHooks back = {};
        char *error = NULL;

        CHECK(oci_config_parse(text, strlen(text), &c, &error) == 0);
        CHECK(c.hooks.n[OCI_HOOK_PRESTART] == 2 && c.hooks.n[OCI_HOOK_POSTSTART] == 0);
        CHECK_STREQ(c.hooks.list[OCI_HOOK_PRESTART][0].path, "/a");
        CHECK(!c.hooks.list[OCI_HOOK_PRESTART][0].args && !c.hooks.list[OCI_HOOK_PRESTART][0].env);
        CHECK_STREQ(c.hooks.list[OCI_HOOK_PRESTART][1].args[0], "b0");
        CHECK_STREQ(c.hooks.list[OCI_HOOK_START_CONTAINER][0].env[0], "K=V");
        CHECK(c.hooks.list[OCI_HOOK_START_CONTAINER][0].timeout == 7);
        CHECK(oci_hooks_has_creating(&c.hooks));

        /* what berth-runc keeps for start and delete: only the points asked for */
        json = oci_hooks_to_json(&c.hooks, 1U << OCI_HOOK_POSTSTART | 1U << OCI_HOOK_POSTSTOP);
        CHECK(json && oci_hooks_parse(json, strlen(json), &back, &error) == 0);
        CHECK(back.n[OCI_HOOK_PRESTART] == 0 && back.n[OCI_HOOK_POSTSTOP] == 1);
        CHECK_STREQ(back.list[OCI_HOOK_POSTSTOP][0].path, "/d");
        CHECK(back.list[OCI_HOOK_POSTSTOP][0].timeout == 3);
        oci_hooks_done(&back);
        oci_config_done(&c);
}

static void test_resources(void) {
        static const char text[] = "{ \"memory\": { \"limit\": -1 }, \"pids\": { \"limit\": 10 }, \"cpu\": { \"shares\": 512 } }";
        OciResources r = {};
        char *error = NULL;

        CHECK(oci_resources_parse(text, strlen(text), &r, &error) == 0);
        CHECK(r.memory_limit_set && r.memory_limit == -1);
        CHECK(r.pids_limit == 10);
        CHECK(r.cpu_shares_set && r.cpu_shares == 512);
        CHECK(oci_resources_parse("{ \"pids\": { \"limit\": 1.5 } }", 28, &r, &error) == -EINVAL);
        CHECK_STREQ(error, "resources.pids.limit: expected int, got double");
        free(error);
}

static void test_resources_cpu_devices(void) {
        static const char text[] =
                "{ \"cpu\": { \"cpus\": \"0-3,5\", \"mems\": \"0\", \"realtimePeriod\": 1000000, \"realtimeRuntime\": 950000 },"
                "  \"devices\": [ { \"allow\": false, \"access\": \"rwm\" },"
                "                 { \"allow\": true, \"type\": \"c\", \"major\": 10, \"minor\": 229, \"access\": \"rw\" } ] }";
        OciResources r = {};
        char *error = NULL;

        CHECK(oci_resources_parse(text, strlen(text), &r, &error) == 0);
        CHECK_STREQ(r.cpus, "0-3,5");
        CHECK_STREQ(r.mems, "0");
        CHECK(r.cpu_realtime_period_set && r.cpu_realtime_period == 1000000);
        CHECK(r.cpu_realtime_runtime_set && r.cpu_realtime_runtime == 950000);
        CHECK(r.n_devices == 2);
        CHECK(!r.devices[0].allow && r.devices[0].type == 'a' && r.devices[0].major == -1 && r.devices[0].minor == -1);
        CHECK_STREQ(r.devices[0].access, "rwm");
        CHECK(r.devices[1].allow && r.devices[1].type == 'c' && r.devices[1].major == 10 && r.devices[1].minor == 229);
        CHECK_STREQ(r.devices[1].access, "rw");
        static const char bad[] = "{ \"devices\": [ { \"allow\": true, \"type\": \"x\" } ] }";

        CHECK(oci_resources_parse(bad, strlen(bad), &r, &error) == -EINVAL);
        CHECK_STREQ(error, "resources.devices[0]: type 'x' is not a, c or b");
        free(error);
}

static const char seccomp_config[] =
        "{ \"ociVersion\": \"1.0.2\", " MINIMAL_PROCESS ", \"root\": { \"path\": \"r\" },\n"
        "  \"linux\": { \"seccomp\": { \"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"],\n"
        "      \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"],\n"
        "      \"syscalls\": [ { \"names\": [\"getppid\", \"no_such_call\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 28 },\n"
        "                    { \"names\": [\"umask\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
        "                      \"args\": [ { \"index\": 0, \"value\": 2048, \"valueTwo\": 2048, \"op\": \"SCMP_CMP_MASKED_EQ\" } ] },\n"
        "                    { \"names\": [\"getpgid\"], \"action\": \"SCMP_ACT_ERRNO\",\n"
        "                      \"args\": [ { \"index\": 0, \"value\": 7, \"op\": \"SCMP_CMP_GT\" },\n"
        "                                { \"index\": 0, \"value\": 9, \"op\": \"SCMP_CMP_EQ\" } ] } ] } } }";

/* The compiled profile in a child (no_new_privs: no privilege needed): each call returns
 * what the profile says. */
static int run_profile(const SeccompFilter *f) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_filter_load(f) < 0)
                return 10;
        if (syscall(SYS_getppid) >= 0 || errno != ENOSPC)
                return 11;
        if (syscall(SYS_umask, 04022) >= 0 || errno != EACCES)
                return 12;
        if (syscall(SYS_umask, 0022) < 0)
                return 13;
        /* one argument compared twice: each condition is a rule of its own (OR) */
        if (syscall(SYS_getpgid, 8) >= 0 || errno != EPERM)
                return 14;
        if (syscall(SYS_getpgid, 1) < 0 && errno == EPERM)
                return 15;
        return 0;
}

static void test_seccomp(void) {
        OciConfig c = {};
        SeccompFilter f = SECCOMP_FILTER_NULL;
        char *error = NULL;
        int status = -1;
        pid_t pid;

        CHECK(oci_config_parse(seccomp_config, strlen(seccomp_config), &c, &error) == 0);
        CHECK(!error);
        CHECK(c.seccomp && c.seccomp->n_rules == 3 && c.seccomp->n_architectures == 2);
        CHECK(c.seccomp && c.seccomp->rules[0].action == SCMP_ACT_ERRNO(28));
        CHECK(c.seccomp && c.seccomp->rules[2].action == SCMP_ACT_ERRNO(EPERM));
        CHECK(c.seccomp && c.seccomp->rules[1].n_args == 1 && c.seccomp->rules[1].args[0].op == SCMP_CMP_MASKED_EQ);
        CHECK(c.seccomp && seccomp_oci_build(c.seccomp, &f) == 0);
        CHECK(f.flags == SECCOMP_FILTER_FLAG_LOG && seccomp_filter_is_set(&f));
        pid = fork();
        if (pid == 0)
                _exit(run_profile(&f));
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        seccomp_filter_done(&f);
        oci_config_done(&c);
}

static void test_id_mappings(void) {
        static const char json[] =
                "{ \"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, " MINIMAL_PROCESS ",\n"
                "  \"mounts\": [ { \"destination\": \"/d\", \"source\": \"/s\", \"options\": [\"rbind\", \"ridmap\"],\n"
                "      \"uidMappings\": [ { \"containerID\": 0, \"hostID\": 100000, \"size\": 65536 } ],\n"
                "      \"gidMappings\": [ { \"containerID\": 0, \"hostID\": 200000, \"size\": 10 } ] } ],\n"
                "  \"linux\": { \"namespaces\": [ { \"type\": \"user\" } ],\n"
                "      \"uidMappings\": [ { \"containerID\": 0, \"hostID\": 1000, \"size\": 2000 },\n"
                "                       { \"containerID\": 2000, \"hostID\": 0, \"size\": 1 } ],\n"
                "      \"gidMappings\": [ { \"containerID\": 0, \"hostID\": 1000, \"size\": 3000 } ] } }\n";
        OciConfig c = {};
        char *error = NULL, *text;

        CHECK(oci_config_parse(json, strlen(json), &c, &error) == 0);
        CHECK(!error);
        CHECK(c.namespaces[OCI_NS_USER].wanted && !c.namespaces[OCI_NS_USER].path);
        CHECK(c.uid_mappings.n == 2 && c.gid_mappings.n == 1);
        CHECK(id_map_outside(&c.uid_mappings, 0) == 1000);
        CHECK(id_map_outside(&c.uid_mappings, 1999) == 2999);
        CHECK(id_map_outside(&c.uid_mappings, 2000) == 0);
        CHECK(id_map_outside(&c.uid_mappings, 2001) == ID_UNMAPPED);
        CHECK(id_map_outside(&c.gid_mappings, 2999) == 3999);
        text = id_map_to_string(&c.uid_mappings);
        CHECK_STREQ(text, "0 1000 2000\n2000 0 1\n");
        free(text);
        CHECK(c.n_mounts == 1 && c.mounts[0].uid_mappings.n == 1 && c.mounts[0].gid_mappings.n == 1);
        CHECK(c.mounts[0].uid_mappings.items[0].outside == 100000 && c.mounts[0].uid_mappings.items[0].count == 65536);
        CHECK(c.mounts[0].gid_mappings.items[0].outside == 200000 && c.mounts[0].gid_mappings.items[0].count == 10);
        oci_config_done(&c);
}

int main(void) {
        test_full();
        test_errors();
        test_hooks();
        test_resources();
        test_resources_cpu_devices();
        test_seccomp();
        test_id_mappings();
        return tap_done();
}
