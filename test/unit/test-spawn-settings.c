/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* spawn-settings.c without root: parsing of NAME.nspawn text, the mask that command-line
 * options set, and the merge in the yes, trusted and override modes. */

#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>

#include "log.h"
#include "spawn-config.h"
#include "spawn-process.h"
#include "spawn-settings.h"
#include "string-util.h"
#include "tap.h"

#define ARGC(a) ((int) (sizeof(a) / sizeof((a)[0]) - 1))

static int parse_text(const char *text, SpawnSettings *s) {
        FILE *f = fmemopen((void *) text, strlen(text), "r");
        int r;

        if (!f)
                return -errno;
        r = spawn_settings_parse(f, "/x/m.nspawn", s);
        fclose(f);
        return r;
}

/* parse argv, then merge the file's text with the given trust */
static int merge(const char *text, bool trusted, char **argv, int argc, SpawnConfig *c) {
        _cleanup_(spawn_settings_done) SpawnSettings s = {};
        int r;

        r = spawn_config_parse_argv(c, argc, argv);
        if (r != 0)
                return -EINVAL;
        r = parse_text(text, &s);
        if (r < 0)
                return r;
        s.trusted = trusted;
        return spawn_settings_apply(c, &s, argc, argv);
}

static void test_parse(void) {
        _cleanup_(spawn_settings_done) SpawnSettings s = {};

        CHECK(parse_text("# c\n[Exec]\n  Hostname = h1  \nEnvironment=A=1 \"B=x y\"\n"
                         "Environment=\nEnvironment=C=3\nCapability=CAP_SYS_TIME \\\n CAP_NET_RAW\n"
                         "[Bogus]\nHostname=nope\n[Files]\nNoSuchKey=1\nBind=/srv:/mnt\n", &s) == 0);
        CHECK(s.n_entries == 4);
        CHECK_STREQ(s.entries[0].value, "h1");
        CHECK(s.entries[0].line == 3);
        CHECK_STREQ(s.entries[1].value, "C=3");               /* the empty assignment reset A= and B= */
        CHECK(s.entries[2].line == 7);                         /* a continued line counts from its start */
        CHECK_STREQ(s.entries[3].value, "/srv:/mnt");
        spawn_settings_done(&s);

        log_set_max_level(-1);
        CHECK(parse_text("[Exec]\nKillSignal=SIGNOPE\n", &s) < 0);
        CHECK(parse_text("[Exec]\nBoot=maybe\n", &s) < 0);
        CHECK(parse_text("[Exec]\nEnvironment=\"open\n", &s) < 0);
        CHECK(parse_text("[Exec]\nEnvironment=NAME_ONLY\n", &s) < 0);
        CHECK(parse_text("[Exec\n", &s) < 0);
        CHECK(parse_text("[Files]\nBind=relative\n", &s) < 0);
        CHECK(parse_text("[Exec]\nHostname=a\033[2Jb\n", &s) < 0);   /* no escape sequence reaches the terminal */
        CHECK(parse_text("[Exec]\nHostname=\xff\n", &s) < 0);
        /* blank lines, blank-only lines and CRLF line ends are no control characters */
        CHECK(parse_text("\n[Exec]\n\n   \t\nHostname=b\r\n\r\n", &s) == 0);
        CHECK(s.n_entries == 1 && s.entries[0].line == 5);
        spawn_settings_done(&s);
        CHECK(parse_text("[Exec]\r\nHostname=crlf\r\n\tKillSignal =\tSIGTERM\nHostname=end\\", &s) == 0);
        CHECK(s.n_entries == 3 && streq(s.entries[1].value, "SIGTERM") && streq(s.entries[2].value, "end"));
        spawn_settings_done(&s);
        log_set_max_level(LOG_INFO);
}

static void test_mask(void) {
        SpawnConfig c;
        char *argv[] = { "berth-spawn", "-U", "--bind=/srv", "-E", "A=1", "--hostname=h", "-n", "-j",
                         "/bin/true", NULL };

        CHECK(spawn_config_parse_argv(&c, ARGC(argv), argv) == 0);
        CHECK(c.settings_mask == (SETTING_USERNS | SETTING_CUSTOM_MOUNTS | SETTING_ENVIRONMENT | SETTING_HOSTNAME |
                                  SETTING_NETWORK | SETTING_LINK_JOURNAL | SETTING_START_MODE));
        spawn_config_done(&c);

        /* --rlimit= masks its own LimitXXX= only */
        char *rl[] = { "berth-spawn", "--rlimit=RLIMIT_NOFILE=10", NULL };
        CHECK(spawn_config_parse_argv(&c, ARGC(rl), rl) == 0);
        CHECK(c.settings_mask != 0);
        CHECK(spawn_settings_option_mask(spawn_config_option_from_name("rlimit", NULL), "NOFILE=1") == c.settings_mask);
        CHECK(spawn_settings_option_mask(spawn_config_option_from_name("rlimit", NULL), "LimitCORE=1") != c.settings_mask);
        spawn_config_done(&c);
}

/* the keys of the per-process options (spawn-process.c) and what an untrusted file may set */
static void test_process_keys(void) {
        const char *file = "[Exec]\nLimitNOFILE=1024:2048\nLimitCORE=0\nOOMScoreAdjust=100\nCPUAffinity=0\n"
                           "Personality=x86-64\nSuppressSync=yes\nPivotRoot=/sysroot\nAmbientCapability=CAP_NET_RAW\n";
        char *plain[] = { "berth-spawn", "-D", "/t", NULL };
        char *rl[] = { "berth-spawn", "-D", "/t", "--rlimit=NOFILE=5", NULL };
        SpawnConfig c;

        log_set_max_level(-1);
        CHECK(merge(file, true, plain, ARGC(plain), &c) == 0);
        CHECK(c.process.rlimits_set & (UINT32_C(1) << RLIMIT_NOFILE));
        CHECK(c.process.rlimits[RLIMIT_NOFILE].rlim_cur == 1024 && c.process.rlimits[RLIMIT_NOFILE].rlim_max == 2048);
        CHECK(c.process.oom_score_adjust_set && c.process.oom_score_adjust == 100);
        CHECK(c.process.cpu_set_set);
        CHECK(c.process.personality != PERSONALITY_INVALID);
        CHECK(c.suppress_sync);
        CHECK_STREQ(c.pivot_root_new, "/sysroot");
        CHECK(c.process.capability_ambient == UINT64_C(1) << CAP_NET_RAW);
        spawn_config_done(&c);

        /* untrusted: limits, OOM score, affinity and ambient capabilities are not the file's to raise */
        CHECK(merge(file, false, plain, ARGC(plain), &c) == 0);
        CHECK(c.process.rlimits_set == 0);
        CHECK(!c.process.oom_score_adjust_set && !c.process.cpu_set_set && c.process.capability_ambient == 0);
        CHECK(c.process.personality != PERSONALITY_INVALID && c.suppress_sync);
        CHECK_STREQ(c.pivot_root_new, "/sysroot");
        spawn_config_done(&c);

        /* --rlimit=NOFILE= wins over LimitNOFILE= but not over LimitCORE= */
        CHECK(merge(file, true, rl, ARGC(rl), &c) == 0);
        CHECK(c.process.rlimits[RLIMIT_NOFILE].rlim_cur == 5);
        CHECK(c.process.rlimits_set & (UINT32_C(1) << RLIMIT_CORE));
        spawn_config_done(&c);

        CHECK(parse_text("[Exec]\nLimitNOFILE=lots\n", &(SpawnSettings) {}) < 0);
        log_set_max_level(LOG_INFO);
}

static void test_merge(void) {
        const char *file = "[Exec]\nHostname=file\nEnvironment=F=1\nCapability=CAP_SYS_TIME\nDropCapability=CAP_MKNOD\n"
                           "KillSignal=SIGTERM\nParameters=/bin/echo from-file\n[Files]\nBind=/srv:/mnt\n"
                           "[Network]\nPrivate=yes\n";
        char *plain[] = { "berth-spawn", "-D", "/t", NULL };
        char *cmd[] = { "berth-spawn", "-D", "/t", "--hostname=cmd", "--bind=/etc:/e", "/bin/true", NULL };
        char *over[] = { "berth-spawn", "--settings=override", "-D", "/t", "--hostname=cmd", "--bind=/etc:/e",
                         "-E", "C=1", "/bin/true", NULL };
        SpawnConfig c;

        /* untrusted: the safe keys apply, Capability=, Bind= and Private= do not */
        log_set_max_level(-1);
        CHECK(merge(file, false, plain, ARGC(plain), &c) == 0);
        CHECK_STREQ(c.hostname, "file");
        CHECK_STREQ(c.setenv[0], "F=1");
        CHECK(c.kill_signal == SIGTERM);
        CHECK(strv_length(c.command) == 2 && streq(c.command[1], "from-file"));
        CHECK(c.capability_add == 0);
        CHECK(c.capability_drop == UINT64_C(1) << CAP_MKNOD);
        CHECK(c.n_mounts == 0);
        CHECK(!c.private_network);
        CHECK_STREQ(c.settings_file, "/x/m.nspawn");
        CHECK(!c.settings_trusted);
        spawn_config_done(&c);

        /* trusted: all of it */
        CHECK(merge(file, true, plain, ARGC(plain), &c) == 0);
        CHECK(c.capability_add == UINT64_C(1) << CAP_SYS_TIME);
        CHECK(c.n_mounts == 1 && streq(c.mounts[0].destination, "/mnt"));
        CHECK(c.private_network);
        CHECK(c.settings_trusted);
        spawn_config_done(&c);

        /* the command line wins for the groups it set */
        CHECK(merge(file, true, cmd, ARGC(cmd), &c) == 0);
        CHECK_STREQ(c.hostname, "cmd");
        CHECK(c.n_mounts == 1 && streq(c.mounts[0].destination, "/e"));
        CHECK(strv_length(c.command) == 1 && streq(c.command[0], "/bin/true"));
        CHECK_STREQ(c.setenv[0], "F=1");                      /* no -E: the file's */
        spawn_config_done(&c);

        /* override: the file's groups replace the command line's, lists included */
        CHECK(merge(file, true, over, ARGC(over), &c) == 0);
        CHECK_STREQ(c.hostname, "file");
        CHECK(c.n_mounts == 1 && streq(c.mounts[0].destination, "/mnt"));
        CHECK(strv_length(c.setenv) == 1 && streq(c.setenv[0], "F=1"));
        CHECK(strv_length(c.command) == 2 && streq(c.command[0], "/bin/echo"));
        CHECK_STREQ(c.directory, "/t");
        spawn_config_done(&c);

        /* override, untrusted: Bind= is dropped, so the command line's bind stays */
        CHECK(merge(file, false, over, ARGC(over), &c) == 0);
        CHECK(c.n_mounts == 1 && streq(c.mounts[0].destination, "/e"));
        CHECK_STREQ(c.hostname, "file");
        spawn_config_done(&c);

        /* an untrusted allow list drops every SystemCallFilter= line; a deny list alone applies */
        CHECK(merge("[Exec]\nSystemCallFilter=~@clock\n", false, plain, ARGC(plain), &c) == 0);
        CHECK(strv_length(c.syscall_deny) > 0);
        spawn_config_done(&c);
        CHECK(merge("[Exec]\nSystemCallFilter=~@clock\nSystemCallFilter=@basic-io\n", false, plain, ARGC(plain), &c) == 0);
        CHECK(strv_length(c.syscall_deny) == 0 && strv_length(c.syscall_allow) == 0);
        spawn_config_done(&c);
        log_set_max_level(LOG_INFO);
}

int main(void) {
        test_parse();
        test_mask();
        test_merge();
        test_process_keys();
        return tap_done();
}
