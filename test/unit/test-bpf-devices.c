/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device rules compiled into a cgroup device program (src/shared/bpf-devices.c), run
 * here by a small interpreter of the instructions it emits: the decisions of hand-written
 * rule lists, then of random ones against a plain reading of the semantics (per access,
 * the last rule naming the device and the access decides). The kernel's own verdicts on
 * real devices are in test-cgroup-devices and test-vm-cgroup. */

#include <stdint.h>
#include <stdlib.h>

#include "bpf-devices.h"
#include "macro.h"
#include "tap.h"

#define M BPF_DEVCG_ACC_MKNOD
#define R BPF_DEVCG_ACC_READ
#define W BPF_DEVCG_ACC_WRITE
#define CHR BPF_DEVCG_DEV_CHAR
#define BLK BPF_DEVCG_DEV_BLOCK

/* Runs the subset of eBPF the compiler emits; -1 on anything else or a jump out. */
static int run(const struct bpf_insn *p, size_t n, uint32_t type, uint32_t access, uint32_t major, uint32_t minor) {
        struct bpf_cgroup_dev_ctx ctx = { .access_type = access << 16 | type, .major = major, .minor = minor };
        uint64_t reg[11] = { [BPF_REG_1] = (uintptr_t) &ctx };

        for (size_t pc = 0; pc < n; pc++) {
                const struct bpf_insn *i = &p[pc];
                uint64_t src = BPF_SRC(i->code) == BPF_X ? reg[i->src_reg] : (uint64_t) (int64_t) i->imm;
                bool jump;

                switch (i->code) {
                case BPF_LDX | BPF_MEM | BPF_W:
                        reg[i->dst_reg] = *(const uint32_t *) ((const char *) (uintptr_t) reg[i->src_reg] + i->off);
                        continue;
                case BPF_ALU | BPF_AND | BPF_K:
                        reg[i->dst_reg] = (uint32_t) (reg[i->dst_reg] & src);
                        continue;
                case BPF_ALU | BPF_RSH | BPF_K:
                        reg[i->dst_reg] = (uint32_t) reg[i->dst_reg] >> i->imm;
                        continue;
                case BPF_ALU | BPF_MOV | BPF_K:
                case BPF_ALU | BPF_MOV | BPF_X:
                        reg[i->dst_reg] = (uint32_t) src;
                        continue;
                case BPF_JMP | BPF_EXIT:
                        return (int) reg[BPF_REG_0];
                case BPF_JMP | BPF_JA:
                        jump = true;
                        break;
                case BPF_JMP | BPF_JEQ | BPF_K:
                        jump = reg[i->dst_reg] == src;
                        break;
                case BPF_JMP | BPF_JNE | BPF_K:
                        jump = reg[i->dst_reg] != src;
                        break;
                default:
                        return -1;
                }
                if (jump)
                        pc += i->off;
                if (pc + 1 > n)
                        return -1;
        }
        return -1;
}

/* The semantics, read plainly. */
static int reference(const CgroupDeviceRule *rules, size_t n, bool default_allow,
                     uint32_t type, uint32_t access, uint32_t major, uint32_t minor) {
        for (uint32_t a = M; a <= W; a <<= 1) {
                int verdict = default_allow;

                if (!(access & a))
                        continue;
                for (size_t i = n; i > 0; i--) {
                        const CgroupDeviceRule *r = &rules[i - 1];
                        uint32_t t = r->type == 'c' ? CHR : r->type == 'b' ? BLK : type;

                        if (!strchr(r->access, a == M ? 'm' : a == R ? 'r' : 'w') || t != type ||
                            (r->major >= 0 && r->major != major) || (r->minor >= 0 && r->minor != minor))
                                continue;
                        verdict = r->allow;
                        break;
                }
                if (!verdict)
                        return 0;
        }
        return 1;
}

static int decide(const CgroupDeviceRule *rules, size_t n, bool default_allow,
                  uint32_t type, uint32_t access, uint32_t major, uint32_t minor) {
        _cleanup_free_ struct bpf_insn *p = NULL;
        size_t k;

        if (bpf_devices_compile(rules, n, default_allow, &p, &k) < 0)
                return -2;
        return run(p, k, type, access, major, minor);
}

static void test_fixed(void) {
        static const CgroupDeviceRule oci[] = {
                { false, 'a', -1, -1, "rwm" },
                { false, 'c', 10, 229, "rwm" }, { true, 'c', 10, 229, "rwm" },
                { true, 'c', 10, 200, "rwm" }, { false, 'c', 10, 200, "w" },
                { true, 'c', 10, -1, "m" },
                { true, 'b', -1, 0, "r" },
        };
        static const CgroupDeviceRule blacklist[] = {
                { true, 'a', -1, -1, "rwm" }, { false, 'b', 8, -1, "rwm" },
        };
        static const CgroupDeviceRule update[] = { { false, 'c', 10, 229, "r" } };
        size_t n = ELEMENTSOF(oci);

        CHECK(decide(oci, n, false, CHR, R | W, 10, 229) == 1);     /* the last rule wins */
        CHECK(decide(oci, n, false, CHR, R, 10, 200) == 1);
        CHECK(decide(oci, n, false, CHR, W, 10, 200) == 0);         /* per access */
        CHECK(decide(oci, n, false, CHR, R | W, 10, 200) == 0);     /* O_RDWR needs both */
        CHECK(decide(oci, n, false, CHR, M, 10, 99) == 1);          /* a wildcard minor */
        CHECK(decide(oci, n, false, CHR, R, 10, 99) == 0);
        CHECK(decide(oci, n, false, CHR, M, 4, 1) == 0);            /* no rule: denied */
        CHECK(decide(oci, n, false, BLK, R, 7, 0) == 1);            /* a wildcard major */
        CHECK(decide(oci, n, false, BLK, W, 7, 0) == 0);
        CHECK(decide(oci, n, false, CHR, R, 7, 0) == 0);            /* the type counts */
        CHECK(decide(NULL, 0, false, CHR, R, 1, 3) == 0);
        CHECK(decide(NULL, 0, true, CHR, R, 1, 3) == 1);
        CHECK(decide(blacklist, 2, false, CHR, R | W | M, 1, 3) == 1);
        CHECK(decide(blacklist, 2, false, BLK, R, 8, 0) == 0);
        CHECK(decide(blacklist, 2, false, BLK, R, 7, 0) == 1);
        CHECK(decide(update, 1, true, CHR, R, 10, 229) == 0);       /* an update's program */
        CHECK(decide(update, 1, true, CHR, W, 10, 229) == 1);
        CHECK(decide(update, 1, true, BLK, R, 8, 0) == 1);
}

static void test_random(void) {
        static const int64_t numbers[] = { -1, 0, 3, 10, 229 };
        static const char *const accesses[] = { "r", "w", "m", "rw", "rm", "wm", "rwm" };
        unsigned mismatches = 0, runs = 0;

        srand(4242);
        for (int round = 0; round < 300; round++) {
                CgroupDeviceRule rules[12];
                size_t n = (size_t) (rand() % 12);
                bool default_allow = rand() % 2;
                _cleanup_free_ struct bpf_insn *p = NULL;
                size_t k;

                for (size_t i = 0; i < n; i++) {
                        rules[i] = (CgroupDeviceRule) {
                                .allow = rand() % 2,
                                .type = "acb"[rand() % 3],
                                .major = numbers[rand() % ELEMENTSOF(numbers)],
                                .minor = numbers[rand() % ELEMENTSOF(numbers)],
                        };
                        strcpy(rules[i].access, accesses[rand() % ELEMENTSOF(accesses)]);
                }
                if (bpf_devices_compile(rules, n, default_allow, &p, &k) < 0) {
                        mismatches++;
                        continue;
                }
                for (uint32_t type = BLK; type <= CHR; type++)
                        for (uint32_t access = 1; access <= (M | R | W); access++)
                                for (size_t a = 1; a < ELEMENTSOF(numbers); a++)
                                        for (size_t b = 1; b < ELEMENTSOF(numbers); b++) {
                                                uint32_t maj = (uint32_t) numbers[a], min = (uint32_t) numbers[b];

                                                runs++;
                                                if (run(p, k, type, access, maj, min) !=
                                                    reference(rules, n, default_allow, type, access, maj, min))
                                                        mismatches++;
                                        }
        }
        printf("# %u random decisions compared\n", runs);
        CHECK(runs > 0 && mismatches == 0);
}

static void test_limits(void) {
        static CgroupDeviceRule many[400];
        _cleanup_free_ struct bpf_insn *p = NULL;
        size_t k;

        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (CgroupDeviceRule) { true, 'c', 1, (int64_t) i, "rwm" };
        /* the most an OCI config gives (CGROUP_DEVICE_RULES_MAX) and berth's nine defaults */
        CHECK(bpf_devices_compile(many, CGROUP_DEVICE_RULES_MAX + 9, false, &p, &k) == 0 && k <= BPF_DEVICES_INSNS_MAX);
        CHECK(run(p, k, CHR, R, 1, CGROUP_DEVICE_RULES_MAX + 8) == 1);
        CHECK(bpf_devices_compile(many, ELEMENTSOF(many), false, &p, &k) == -E2BIG);
}

int main(void) {
        test_fixed();
        test_random();
        test_limits();
        return tap_done();
}
