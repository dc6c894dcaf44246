/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <linux/capability.h>
#include <signal.h>
#include <sys/mount.h>

#include "capability-util.h"
#include "log.h"
#include "mount-util.h"
#include "seccomp-util.h"
#include "spawn-cgroup.h"
#include "spawn-network.h"
#include <arpa/inet.h>
#include "spawn-config.h"
#include "spawn-device-policy.h"
#include "spawn-mount.h"
#include "string-util.h"
#include "tap.h"

static int parse(SpawnConfig *c, char **argv) {
        *c = (SpawnConfig) {};
        return spawn_config_parse_argv(c, (int) strv_length(argv), argv);
}

static void test_argv(void) {
        SpawnConfig c;

        CHECK(parse(&c, (char *[]) { "berth-spawn", "-D", "/srv/t", "-M", "web-1", "--as-pid2",
                                     "--kill-signal=SIGTERM", "-E", "A=1", "--", "/bin/echo", "-n", "x", NULL }) == 0);
        CHECK_STREQ(c.directory, "/srv/t");
        CHECK_STREQ(c.machine, "web-1");
        CHECK(c.as_pid2);
        CHECK(c.kill_signal == SIGTERM);
        CHECK_STREQ(c.setenv[0], "A=1");
        CHECK(strv_length(c.command) == 3 && streq(c.command[1], "-n"));
        spawn_config_done(&c);

        /* options after the command belong to the command */
        CHECK(parse(&c, (char *[]) { "berth-spawn", "-D/t", "/bin/ls", "-q", NULL }) == 0);
        CHECK(!c.quiet && strv_length(c.command) == 2);
        spawn_config_done(&c);

        log_set_max_level(-1);   /* the failures below log; keep the TAP stream clean */
        CHECK(parse(&c, (char *[]) { "berth-spawn", "-M", "a/b", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--console=fancy", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--capability=CAP_NOPE", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--system-call-filter=nosuchcall", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--kill-signal=SIGNOPE", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--uuid=xyz", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "-E", "=x", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--bogus", NULL }) < 0);
        spawn_config_done(&c);
        /* BASE + RANGE must not wrap around 2^64 into something small */
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--private-users=18446744073709551615:10", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--private-users=4294901760:65536", NULL }) < 0);
        spawn_config_done(&c);
        log_set_max_level(LOG_INFO);

        CHECK(parse(&c, (char *[]) { "berth-spawn", "--private-users=4294836224:65536", NULL }) == 0);
        CHECK(c.private_users == PRIVATE_USERS_FIXED && c.uid_shift == 4294836224U && c.uid_range == 65536);
        spawn_config_done(&c);
}

static void test_binds(void) {
        SpawnConfig c = {};

        log_set_max_level(-1);
        CHECK(custom_mount_parse_bind(&c, "/srv/data", false) == 0);
        CHECK(custom_mount_parse_bind(&c, "/a\\:b:/mnt/x:norbind", true) == 0);
        CHECK(custom_mount_parse_bind(&c, "+/var/x:/y", false) == 0);
        CHECK(custom_mount_parse_bind(&c, "relative:/x", false) < 0);
        CHECK(custom_mount_parse_bind(&c, "", false) < 0);
        CHECK(custom_mount_parse_bind(&c, "/a:/b:rbind:extra", false) < 0);
        CHECK(custom_mount_parse_bind(&c, "/a:/b:bogus", false) < 0);
        CHECK(custom_mount_parse_bind(&c, "/a/../etc:/b", false) < 0);
        CHECK(custom_mount_parse_bind(&c, "/a:b", false) < 0);
        CHECK(c.n_mounts == 3);
        CHECK_STREQ(c.mounts[0].source, "/srv/data");
        CHECK_STREQ(c.mounts[0].destination, "/srv/data");
        CHECK(c.mounts[0].recursive && !c.mounts[0].read_only);
        CHECK_STREQ(c.mounts[1].source, "/a:b");
        CHECK_STREQ(c.mounts[1].destination, "/mnt/x");
        CHECK(!c.mounts[1].recursive && c.mounts[1].read_only);
        CHECK(c.mounts[2].source_in_tree);
        CHECK_STREQ(c.mounts[2].source, "/var/x");

        CHECK(custom_mount_parse_overlay(&c, "/l1:/l2:/up:/dst", false) == 0);
        CHECK(strv_length(c.mounts[3].lower) == 2);
        CHECK_STREQ(c.mounts[3].lower[0], "/l1");
        CHECK_STREQ(c.mounts[3].upper, "/up");
        CHECK_STREQ(c.mounts[3].destination, "/dst");
        CHECK(custom_mount_parse_overlay(&c, "/up:/dst", false) == 0);
        CHECK_STREQ(c.mounts[4].lower[0], "+/dst");
        CHECK(custom_mount_parse_overlay(&c, "/l1:/l2:/dst", true) == 0);
        CHECK(strv_length(c.mounts[5].lower) == 2 && !c.mounts[5].upper);
        CHECK(custom_mount_parse_overlay(&c, "/only", false) < 0);

        CHECK(custom_mount_parse_tmpfs(&c, "/scratch") == 0);
        CHECK_STREQ(c.mounts[6].options, "mode=0755");
        CHECK(custom_mount_parse_tmpfs(&c, "/s2:size=1M,mode=0700") == 0);
        CHECK_STREQ(c.mounts[7].options, "size=1M,mode=0700");
        CHECK(custom_mount_parse_tmpfs(&c, "s3") < 0);
        CHECK(custom_mount_parse_inaccessible(&c, "/etc/shadow") == 0);
        CHECK(custom_mount_parse_inaccessible(&c, "etc") < 0);
        spawn_config_done(&c);
        log_set_max_level(LOG_INFO);
}

static void test_capabilities(void) {
        SpawnConfig c = {};
        uint64_t s;
        _cleanup_free_ char *bad = NULL;

        CHECK(capability_from_name("CAP_SYS_ADMIN") == CAP_SYS_ADMIN);
        CHECK(capability_from_name("cap_net_admin") == CAP_NET_ADMIN);
        CHECK(capability_from_name("sys_module") == CAP_SYS_MODULE);
        CHECK(capability_from_name("CAP_NOPE") < 0);
        CHECK(capability_set_from_string("CAP_CHOWN,CAP_KILL", &s, NULL) == 0 &&
              s == ((UINT64_C(1) << CAP_CHOWN) | (UINT64_C(1) << CAP_KILL)));
        CHECK(capability_set_from_string("CAP_CHOWN,NOPE", &s, &bad) < 0);
        CHECK_STREQ(bad, "NOPE");

        s = capability_default_set();
        CHECK(s & (UINT64_C(1) << CAP_SYS_ADMIN));
        CHECK(!(s & (UINT64_C(1) << CAP_SYS_MODULE)));
        CHECK(!(s & (UINT64_C(1) << CAP_NET_ADMIN)));
        CHECK(!(s & (UINT64_C(1) << CAP_SYS_TIME)));

        c.capability_add = UINT64_C(1) << CAP_NET_ADMIN;
        c.capability_drop = UINT64_C(1) << CAP_SYS_ADMIN;
        s = spawn_config_bounding_set(&c);
        CHECK(s & (UINT64_C(1) << CAP_NET_ADMIN));
        CHECK(!(s & (UINT64_C(1) << CAP_SYS_ADMIN)));
}

static void test_syscall_filter(void) {
        _cleanup_strv_free_ char **allow = NULL, **deny = NULL, **def = NULL;
        _cleanup_free_ char *bad = NULL;

        CHECK(syscall_filter_parse("@clock keyctl", &allow, &deny, NULL) == 0);
        CHECK(strv_contains(allow, "clock_settime") && strv_contains(allow, "keyctl"));
        CHECK(syscall_filter_parse("~@swap", &allow, &deny, NULL) == 0);
        CHECK(strv_contains(deny, "swapon") && !strv_contains(allow, "swapon"));
        CHECK(syscall_filter_parse("@nope", &allow, &deny, &bad) < 0);
        CHECK_STREQ(bad, "@nope");
        /* an allow list: what nspawn refuses is absent, capability-bound calls follow the set */
        CHECK(seccomp_default_allow(0, &def) == 0);
        CHECK(strv_contains(def, "read") && strv_contains(def, "mount") && strv_contains(def, "ioctl") &&
              strv_contains(def, "clone3") && strv_contains(def, "sethostname"));
        CHECK(!strv_contains(def, "kexec_load") && !strv_contains(def, "bpf") && !strv_contains(def, "add_key") &&
              !strv_contains(def, "init_module") && !strv_contains(def, "swapon") &&
              !strv_contains(def, "settimeofday") && !strv_contains(def, "open_by_handle_at") &&
              !strv_contains(def, "perf_event_open") && !strv_contains(def, "fanotify_init") &&
              !strv_contains(def, "reboot") && !strv_contains(def, "ptrace"));
        strv_free(def);
        def = NULL;
        CHECK(seccomp_default_allow((UINT64_C(1) << CAP_SYS_BOOT) | (UINT64_C(1) << CAP_SYS_TIME), &def) == 0);
        CHECK(strv_contains(def, "reboot") && strv_contains(def, "settimeofday") && !strv_contains(def, "ptrace"));
}

static void test_mount_plan(void) {
        size_t n, i_dev = SIZE_MAX, i_proc = SIZE_MAX, i_sys = SIZE_MAX, i_kcore = SIZE_MAX, i_pts = SIZE_MAX;
        const MountEntry *t = mount_api_table(&n);
        _cleanup_free_ char *fs = NULL;
        unsigned attr;

        for (size_t i = 0; i < n; i++) {
                if (streq(t[i].where, "/dev"))
                        i_dev = i;
                else if (streq(t[i].where, "/proc"))
                        i_proc = i;
                else if (streq(t[i].where, "/sys"))
                        i_sys = i;
                else if (streq(t[i].where, "/proc/kcore"))
                        i_kcore = i;
                else if (streq(t[i].where, "/dev/pts"))
                        i_pts = i;
        }
        /* masks need /dev's hidden nodes and /proc mounted first; /proc before /dev as runc */
        CHECK(i_proc < i_dev && i_dev < i_kcore && i_proc < i_kcore && i_dev < i_pts);
        CHECK(i_sys < n && (t[i_sys].attr & MOUNT_ATTR_RDONLY));
        CHECK(t[i_kcore].kind == MOUNT_MASK);
        CHECK(strstr(t[i_pts].options, "newinstance") != NULL);

        CHECK(mount_options_split("mode=0700,nosuid,ro,size=1M,noexec", &fs, &attr) == 0);
        CHECK_STREQ(fs, "mode=0700,size=1M");
        CHECK(attr == (MOUNT_ATTR_NOSUID|MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOEXEC));
}

static void test_resources(void) {
        ResourceLimits l = RESOURCE_LIMITS_NULL;
        _cleanup_free_ char *p1 = NULL, *p2 = NULL;
        char *bad = NULL;
        uint64_t v;

        CHECK(resource_parse_bytes("512M", &v) == 0 && v == 512ULL << 20);
        CHECK(resource_parse_bytes("2G", &v) == 0 && v == 2ULL << 30);
        CHECK(resource_parse_bytes("4096", &v) == 0 && v == 4096);
        CHECK(resource_parse_bytes("infinity", &v) == 0 && v == UINT64_MAX);
        CHECK(resource_parse_bytes("50%", &v) == 0 && v > 0);
        CHECK(resource_parse_bytes("-1", &v) < 0);
        CHECK(resource_parse_bytes("12Q", &v) < 0);
        CHECK(resource_parse_bytes("101%", &v) < 0);
        CHECK(resource_parse_bytes("99999999999T", &v) < 0);

        log_set_max_level(-1);
        CHECK(resource_limits_parse(&l, "MemoryMax=64M") == 0 && l.memory_max == 64ULL << 20 && l.memory_max_set);
        CHECK(resource_limits_parse(&l, "MemoryHigh=infinity") == 0 && l.memory_high == UINT64_MAX && l.memory_high_set);
        CHECK(resource_limits_parse(&l, "TasksMax=30") == 0 && l.tasks_max == 30);
        CHECK(resource_limits_parse(&l, "CPUQuota=150%") == 0 && l.cpu_quota_per_sec_usec == 1500000);
        CHECK(resource_limits_parse(&l, "CPUWeight=500") == 0 && l.cpu_weight == 500);
        CHECK(resource_limits_parse(&l, "IOWeight=10") == 0 && l.io_weight == 10);
        CHECK(resource_limits_any(&l));
        CHECK(resource_limits_parse(&l, "CPUQuota=50") < 0);
        CHECK(resource_limits_parse(&l, "CPUWeight=0") < 0);
        CHECK(resource_limits_parse(&l, "TasksMax=0") < 0);
        CHECK(resource_limits_parse(&l, "DeviceAllow=/dev/sda") < 0);
        CHECK(resource_limits_parse(&l, "MemoryMax") < 0);
        log_set_max_level(LOG_INFO);

        CHECK(slice_to_path("machine.slice", &p1) == 0);
        CHECK_STREQ(p1, "machine.slice");
        CHECK(slice_to_path("a-b-c.slice", &p2) == 0);
        CHECK_STREQ(p2, "a.slice/a-b.slice/a-b-c.slice");
        CHECK(slice_to_path("machine", &bad) < 0);
        CHECK(slice_to_path("../x.slice", &bad) < 0);
        CHECK(slice_to_path("a--b.slice", &bad) < 0);
        CHECK(slice_to_path("-.slice", &bad) < 0);
}

/* find PATH in the policy list: the index of its last rule, -1 if absent */
static ssize_t policy_find(const DeviceAllow *l, size_t n, const char *path) {
        for (size_t i = n; i > 0; i--)
                if (streq(l[i - 1].path, path))
                        return (ssize_t) i - 1;
        return -1;
}

static void test_device_properties(void) {
        DeviceAllow l[DEVICE_ALLOW_MAX];
        SpawnConfig c;
        size_t n, classes = 0;
        ssize_t i;

        CHECK(parse(&c, (char *[]) { "berth-spawn", "--property=DeviceAllow=/dev/zero", "--property=DeviceAllow=",
                                     "--property=DeviceAllow=block-blkext rw", "--property=DeviceAllow=/dev/null",
                                     "--property=DeviceAllow=char-*  r", "--property=DevicePolicy=strict", NULL }) == 0);
        CHECK(c.device_policy == DEVICE_POLICY_STRICT);
        CHECK(c.n_device_allow == 3);
        CHECK_STREQ(c.device_allow[0].spec, "block-blkext");
        CHECK_STREQ(c.device_allow[0].access, "rw");
        CHECK_STREQ(c.device_allow[1].access, "rwm");   /* systemd's default */
        CHECK_STREQ(c.device_allow[2].access, "r");
        CHECK(device_policy_wanted(&c));
        CHECK(device_policy_list(&c, l, ELEMENTSOF(l), &n) == 0);
        /* the class: its major, any minor, the given access; the node: its numbers */
        i = policy_find(l, n, "block-blkext");   /* registered by the block layer itself */
        CHECK(i >= 0 && l[i].rule.type == 'b' && l[i].rule.major == 259 && l[i].rule.minor == -1 &&
              streq(l[i].rule.access, "rw"));
        i = policy_find(l, n, "/dev/null");
        CHECK(i >= 0 && l[i].rule.type == 'c' && l[i].rule.major == 1 && l[i].rule.minor == 3 &&
              streq(l[i].rule.access, "rwm") && (size_t) i > 10);   /* after berth's own entry */
        for (size_t k = 0; k < n; k++)
                if (streq(l[k].path, "char-*"))
                        classes++;
        CHECK(classes > 5);   /* the glob: every character major */
        CHECK(policy_find(l, n, "/dev/zero") == 1);   /* berth's own only: the empty value reset it */
        spawn_config_done(&c);

        /* with a user namespace: none by default, one if asked for; none with auto */
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--private-users=pick", NULL }) == 0);
        CHECK(!device_policy_wanted(&c));
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--private-users=pick", "--property=DeviceAllow=/dev/null", NULL }) == 0);
        CHECK(device_policy_wanted(&c));
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--property=DevicePolicy=auto", NULL }) == 0);
        CHECK(c.device_policy == DEVICE_POLICY_AUTO && !device_policy_wanted(&c));
        spawn_config_done(&c);

        log_set_max_level(-1);
        /* a node that is not there, a class nobody has: warned about, left out */
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--property=DeviceAllow=/dev/no-such-node",
                                     "--property=DeviceAllow=block-no-such-class", NULL }) == 0);
        CHECK(device_policy_list(&c, l, ELEMENTSOF(l), &n) == 0);
        CHECK(policy_find(l, n, "/dev/no-such-node") < 0 && policy_find(l, n, "block-no-such-class") < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--property=DeviceAllow=/etc/passwd", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--property=DeviceAllow=/dev/null rwx", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--property=DeviceAllow=/dev/null ", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--property=DeviceAllow=char-", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--property=DevicePolicy=open", NULL }) < 0);
        spawn_config_done(&c);
        log_set_max_level(LOG_INFO);
}

static void test_network_parsing(void) {
        PortForward p;
        NetworkPool pool;
        struct in_addr a;
        char buf[INET_ADDRSTRLEN];

        CHECK(port_forward_parse("8080", &p) == 0 && p.protocol == IPPROTO_TCP && p.host_port == 8080 && p.machine_port == 8080);
        CHECK(port_forward_parse("8080:80", &p) == 0 && p.host_port == 8080 && p.machine_port == 80);
        CHECK(port_forward_parse("udp:53", &p) == 0 && p.protocol == IPPROTO_UDP && p.machine_port == 53);
        CHECK(port_forward_parse("tcp:2222:22", &p) == 0 && p.host_port == 2222 && p.machine_port == 22);
        CHECK(port_forward_parse("sctp:1", &p) < 0);
        CHECK(port_forward_parse("0", &p) < 0);
        CHECK(port_forward_parse("65536", &p) < 0);
        CHECK(port_forward_parse("80:", &p) < 0);
        CHECK(port_forward_parse("tcp:", &p) < 0);
        CHECK(port_forward_parse("1:2:3", &p) < 0);
        CHECK(port_forward_parse("-5", &p) < 0);

        CHECK(network_pool_parse("10.231.0.0/16", &pool) == 0 && pool.prefixlen == 16);
        CHECK(network_pool_subnet(&pool, 28, 0, &a) == 0);
        CHECK_STREQ(inet_ntop(AF_INET, &a, buf, sizeof(buf)), "10.231.0.0");
        CHECK(network_pool_subnet(&pool, 28, 17, &a) == 0);
        CHECK_STREQ(inet_ntop(AF_INET, &a, buf, sizeof(buf)), "10.231.1.16");
        CHECK(network_pool_subnet(&pool, 28, 4096, &a) == -ERANGE);
        CHECK(network_pool_subnet(&pool, 24, 255, &a) == 0);
        CHECK_STREQ(inet_ntop(AF_INET, &a, buf, sizeof(buf)), "10.231.255.0");
        CHECK(network_pool_parse("10.231.0.1/16", &pool) < 0);
        CHECK(network_pool_parse("10.0.0.0/30", &pool) < 0);
        CHECK(network_pool_parse("banana/16", &pool) < 0);
        CHECK(network_pool_parse("10.0.0.0", &pool) < 0);
}

static void test_process_options(void) {
        SpawnConfig c;
        char *u = NULL;

        CHECK(parse(&c, (char *[]) { "berth-spawn", "--rlimit=NOFILE=10:20", "--rlimit=RLIMIT_CORE=1M",
                                     "--rlimit=LimitNICE=-5", "--rlimit=AS=infinity", "--oom-score-adjust=-17",
                                     "--cpu-affinity=0-2,5", "--personality=x86", "-a", "-S", "foo.slice",
                                     "--set-credential=k:a\\x00b", "--suppress-sync=yes",
                                     "--pivot-root=/sysroot:/old", NULL }) == 0);
        CHECK(c.process.rlimits[RLIMIT_NOFILE].rlim_cur == 10 && c.process.rlimits[RLIMIT_NOFILE].rlim_max == 20);
        CHECK(c.process.rlimits[RLIMIT_CORE].rlim_cur == 1024 * 1024);
        CHECK(c.process.rlimits[RLIMIT_NICE].rlim_max == 25);
        CHECK(c.process.rlimits[RLIMIT_AS].rlim_cur == RLIM_INFINITY);
        CHECK(c.process.rlimits_set == ((1U << RLIMIT_NOFILE) | (1U << RLIMIT_CORE) | (1U << RLIMIT_NICE) | (1U << RLIMIT_AS)));
        CHECK(c.process.oom_score_adjust_set && c.process.oom_score_adjust == -17);
        CHECK(CPU_COUNT(&c.process.cpu_set) == 4 && CPU_ISSET(5, &c.process.cpu_set) && !CPU_ISSET(3, &c.process.cpu_set));
        CHECK(c.as_pid2);
        CHECK_STREQ(c.slice, "foo.slice");
        CHECK(c.credentials.n == 1 && c.credentials.items[0].size == 3 && memcmp(c.credentials.items[0].data, "a\0b", 3) == 0);
        CHECK(c.suppress_sync);
        CHECK_STREQ(c.pivot_root_new, "/sysroot");
        CHECK_STREQ(c.pivot_root_old, "/old");
        spawn_config_done(&c);

        log_set_max_level(-1);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--rlimit=NOFILE=20:10", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--rlimit=NOFILE", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--rlimit=NICE=41", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--oom-score-adjust=-1001", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--cpu-affinity=1-x", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--set-credential=a:1", "--set-credential=a:2", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--set-credential=..:1", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--set-credential=a:\\x4", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--pivot-root=a:b", NULL }) < 0);
        spawn_config_done(&c);
        CHECK(parse(&c, (char *[]) { "berth-spawn", "--bind=+/x:/y:idmap", NULL }) < 0);
        spawn_config_done(&c);
        log_set_max_level(LOG_INFO);

        CHECK(cunescape("\\n\\t\\\\\\101\\x41\\0z", &u) == 7 && memcmp(u, "\n\t\\AA\0z", 7) == 0);
        free(u);
        CHECK(rlimit_from_name("LimitRTTIME") == RLIMIT_RTTIME && rlimit_from_name("FOO") < 0);
}

int main(void) {
        test_argv();
        test_process_options();
        test_binds();
        test_capabilities();
        test_syscall_filter();
        test_mount_plan();
        test_resources();
        test_device_properties();
        test_network_parsing();
        return tap_done();
}
