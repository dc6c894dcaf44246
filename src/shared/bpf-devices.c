/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpf-devices.h"
#include "fd-util.h"
#include "log.h"
#include "macro.h"

/* The registers after the prologue: R1 holds the context (struct bpf_cgroup_dev_ctx)
 * until its three fields are loaded, then serves as scratch. */
enum {
        REG_RET    = BPF_REG_0,
        REG_TMP    = BPF_REG_1,
        REG_TYPE   = BPF_REG_2,   /* BPF_DEVCG_DEV_CHAR or _BLOCK */
        REG_ACCESS = BPF_REG_3,   /* BPF_DEVCG_ACC_* bits asked for */
        REG_MAJOR  = BPF_REG_4,
        REG_MINOR  = BPF_REG_5,
};

/* Forward jumps are emitted before their target is known: to the end of the current
 * access's section, or to the final "deny". */
enum { LABEL_SECTION_END, LABEL_DENY };

typedef struct Emitter {
        struct bpf_insn *insns;
        size_t n;
        struct { size_t at; unsigned label; } *fixups;
        size_t n_fixups;
} Emitter;

static void emit(Emitter *e, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
        e->insns[e->n++] = (struct bpf_insn) { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

static void emit_jump_to(Emitter *e, uint8_t code, uint8_t dst, int32_t imm, unsigned label) {
        e->fixups[e->n_fixups].at = e->n;
        e->fixups[e->n_fixups++].label = label;
        emit(e, code, dst, 0, 0, imm);
}

/* Point every pending jump to 'label' at the next instruction. */
static void label_here(Emitter *e, unsigned label) {
        size_t k = 0;

        for (size_t i = 0; i < e->n_fixups; i++) {
                if (e->fixups[i].label != label) {
                        e->fixups[k++] = e->fixups[i];
                        continue;
                }
                /* a jump goes to the instruction after it plus its offset */
                e->insns[e->fixups[i].at].off = (int16_t) (e->n - e->fixups[i].at - 1);
        }
        e->n_fixups = k;
}

static void emit_return(Emitter *e, int32_t v) {
        emit(e, BPF_ALU | BPF_MOV | BPF_K, REG_RET, 0, 0, v);
        emit(e, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

static uint32_t access_bits(const char *access) {
        uint32_t b = 0;

        for (const char *p = access; *p; p++)
                b |= *p == 'm' ? BPF_DEVCG_ACC_MKNOD : *p == 'r' ? BPF_DEVCG_ACC_READ :
                     *p == 'w' ? BPF_DEVCG_ACC_WRITE : 0;
        return b;
}

/* One rule within the section of one access: if it names the device, it decides. Each
 * test that fails skips the rest of the rule's instructions. A major or minor above
 * INT32_MAX never equals the zero-extended number the kernel passes (the immediate is
 * sign-extended), and no device has one. Returns whether the rule names every device,
 * so that no rule before it can matter. */
static bool emit_rule(Emitter *e, const CgroupDeviceRule *r) {
        int16_t tests = (r->type != 'a') + (r->major >= 0) + (r->minor >= 0);

        if (r->type != 'a')
                emit(e, BPF_JMP | BPF_JNE | BPF_K, REG_TYPE, 0, tests--,
                     r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
        if (r->major >= 0)
                emit(e, BPF_JMP | BPF_JNE | BPF_K, REG_MAJOR, 0, tests--, (int32_t) r->major);
        if (r->minor >= 0)
                emit(e, BPF_JMP | BPF_JNE | BPF_K, REG_MINOR, 0, tests--, (int32_t) r->minor);
        /* allowed: on to the next access asked for; denied: the whole access is */
        emit_jump_to(e, BPF_JMP | BPF_JA, 0, 0, r->allow ? LABEL_SECTION_END : LABEL_DENY);
        return r->type == 'a' && r->major < 0 && r->minor < 0;
}

int bpf_devices_compile(const CgroupDeviceRule *rules, size_t n, bool default_allow,
                        struct bpf_insn **ret, size_t *ret_n) {
        static const uint32_t accesses[] = { BPF_DEVCG_ACC_MKNOD, BPF_DEVCG_ACC_READ, BPF_DEVCG_ACC_WRITE };
        /* prologue 6, per access 3 + 4 per rule + 1, two returns of 2 */
        size_t max = 6 + ELEMENTSOF(accesses) * (4 + 4 * n) + 4;
        _cleanup_free_ struct bpf_insn *insns = NULL;
        _cleanup_free_ void *fixups = NULL;
        Emitter e;

        if (max > BPF_DEVICES_INSNS_MAX)
                return -E2BIG;
        insns = calloc(max, sizeof(*insns));
        fixups = calloc(max, sizeof(*e.fixups));
        if (!insns || !fixups)
                return -ENOMEM;
        e = (Emitter) { .insns = insns, .fixups = fixups };

        emit(&e, BPF_LDX | BPF_MEM | BPF_W, REG_TYPE, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
        emit(&e, BPF_ALU | BPF_AND | BPF_K, REG_TYPE, 0, 0, 0xFFFF);
        emit(&e, BPF_LDX | BPF_MEM | BPF_W, REG_ACCESS, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
        emit(&e, BPF_ALU | BPF_RSH | BPF_K, REG_ACCESS, 0, 0, 16);
        emit(&e, BPF_LDX | BPF_MEM | BPF_W, REG_MAJOR, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major), 0);
        emit(&e, BPF_LDX | BPF_MEM | BPF_W, REG_MINOR, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor), 0);

        /* One section per access: skipped when not asked for, else the rules that name
         * this access, last first; the first that names the device decides. */
        for (size_t a = 0; a < ELEMENTSOF(accesses); a++) {
                bool decided = false;

                emit(&e, BPF_ALU | BPF_MOV | BPF_X, REG_TMP, REG_ACCESS, 0, 0);
                emit(&e, BPF_ALU | BPF_AND | BPF_K, REG_TMP, 0, 0, (int32_t) accesses[a]);
                emit_jump_to(&e, BPF_JMP | BPF_JEQ | BPF_K, REG_TMP, 0, LABEL_SECTION_END);
                for (size_t i = n; i > 0 && !decided; i--)
                        if (access_bits(rules[i - 1].access) & accesses[a])
                                decided = emit_rule(&e, &rules[i - 1]);
                if (!decided && !default_allow)
                        emit_jump_to(&e, BPF_JMP | BPF_JA, 0, 0, LABEL_DENY);
                label_here(&e, LABEL_SECTION_END);
        }
        emit_return(&e, 1);
        label_here(&e, LABEL_DENY);
        emit_return(&e, 0);

        *ret_n = e.n;
        *ret = TAKE_PTR(insns);
        return 0;
}

static int bpf(int cmd, union bpf_attr *attr) {
        long r = syscall(__NR_bpf, cmd, attr, sizeof(*attr));

        return r < 0 ? -errno : (int) r;
}

static int prog_load(const struct bpf_insn *insns, size_t n, char *log, size_t log_size) {
        union bpf_attr attr = {
                .prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
                .insns = (uint64_t) (uintptr_t) insns,
                .insn_cnt = (uint32_t) n,
                /* the program calls no helper, GPL-only or other */
                .license = (uint64_t) (uintptr_t) "LGPL-2.1-or-later",
                .log_buf = (uint64_t) (uintptr_t) log,
                .log_size = log ? (uint32_t) log_size : 0,
                .log_level = log ? 1 : 0,
        };
        struct rlimit old, raised;
        int r;

        /* the name bpftool and /proc/PID/fdinfo show */
        strncpy(attr.prog_name, "berth_devices", sizeof(attr.prog_name) - 1);
        r = bpf(BPF_PROG_LOAD, &attr);
        /* Before Linux 5.11 a program's memory counts against RLIMIT_MEMLOCK (EPERM past
         * it). Raised for the load only: the payload inherits berth-spawn's limits. */
        if (r == -EPERM && getrlimit(RLIMIT_MEMLOCK, &old) >= 0) {
                /* unlimited takes CAP_SYS_RESOURCE; without it, up to the hard limit */
                raised = (struct rlimit) { RLIM_INFINITY, RLIM_INFINITY };
                if (setrlimit(RLIMIT_MEMLOCK, &raised) < 0) {
                        raised = (struct rlimit) { old.rlim_max, old.rlim_max };
                        (void) setrlimit(RLIMIT_MEMLOCK, &raised);
                }
                r = bpf(BPF_PROG_LOAD, &attr);
                (void) setrlimit(RLIMIT_MEMLOCK, &old);
        }
        return r;
}

/* Can this process load a cgroup device program at all? A trivial one ("allow") tells
 * a kernel or privilege that refuses every such program from one that refuses ours. */
static bool device_programs_refused(void) {
        static const struct bpf_insn allow[] = {
                { .code = BPF_ALU | BPF_MOV | BPF_K, .dst_reg = REG_RET, .imm = 1 },
                { .code = BPF_JMP | BPF_EXIT },
        };
        int fd = prog_load(allow, ELEMENTSOF(allow), NULL, 0);

        if (fd < 0)
                return true;
        safe_close(fd);
        return false;
}

int bpf_devices_attach(int cgroup_fd, const struct bpf_insn *insns, size_t n, bool *ret_refused) {
        _cleanup_free_ char *log = malloc(65536);
        _cleanup_close_ int prog = -EBADF;
        union bpf_attr attr = {};
        int r;

        *ret_refused = false;
        if (!log)
                return -ENOMEM;
        log[0] = 0;
        prog = prog_load(insns, n, log, 65536);
        if (prog < 0) {
                *ret_refused = device_programs_refused();
                if (!*ret_refused)
                        log_debug("The kernel's verifier on the device program: %s", log);
                return prog;
        }
        attr.target_fd = (uint32_t) cgroup_fd;
        attr.attach_bpf_fd = (uint32_t) prog;
        attr.attach_type = BPF_CGROUP_DEVICE;
        attr.attach_flags = BPF_F_ALLOW_MULTI;
        r = bpf(BPF_PROG_ATTACH, &attr);
        /* attaching to a cgroup takes CAP_NET_ADMIN in the initial user namespace (or a
         * BPF token), which loading may not */
        if (r == -EPERM)
                *ret_refused = true;
        /* the cgroup holds the program now; our fd to it can go */
        return r < 0 ? r : 0;
}
