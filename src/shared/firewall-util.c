/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <netinet/ip.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "firewall-util.h"
#include "machine-name.h"
#include "macro.h"
#include "string-util.h"

/* How long we wait for the kernel's answer; nfnetlink answers synchronously, this only guards
 * against waiting forever for an ack that never comes. */
#define FW_RECV_TIMEOUT_SEC 5
/* How often a remove is retried when the ruleset changed between listing and deleting. */
#define FW_REMOVE_ATTEMPTS 5
/* Receive buffer (a dump message of the kernel fits in 16 KiB), also the slack of a batch buffer. */
#define FW_BUFFER_SIZE (32U * 1024U)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct mnl_socket *, mnl_socket_close);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_table *, nftnl_table_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_chain *, nftnl_chain_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_rule *, nftnl_rule_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_rule_list *, nftnl_rule_list_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_rule_list_iter *, nftnl_rule_list_iter_destroy);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_udata_buf *, nftnl_udata_buf_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_gen *, nftnl_gen_free);

typedef enum FwChain {
        FW_CHAIN_POSTROUTING,
        FW_CHAIN_PREROUTING,
        FW_CHAIN_OUTPUT,
        _FW_CHAIN_MAX,
} FwChain;

static const struct {
        const char *name;
        unsigned hooknum;
        int priority;
} fw_chains[_FW_CHAIN_MAX] = {
        [FW_CHAIN_POSTROUTING] = { "postrouting", NF_INET_POST_ROUTING, 100 },  /* srcnat */
        [FW_CHAIN_PREROUTING]  = { "prerouting",  NF_INET_PRE_ROUTING,  -100 }, /* dstnat */
        [FW_CHAIN_OUTPUT]      = { "output",      NF_INET_LOCAL_OUT,    -100 },
};

typedef struct FwSocket {
        struct mnl_socket *nl;
        uint32_t portid;
        uint32_t seq;
} FwSocket;

static void fw_socket_done(FwSocket *s) {
        if (s->nl)
                mnl_socket_close(s->nl);
        s->nl = NULL;
}

static int fw_socket_open(FwSocket *ret) {
        _cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
        struct timeval tv = { .tv_sec = FW_RECV_TIMEOUT_SEC };

        nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nl)
                return negative_errno();
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return negative_errno();
        if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
                return negative_errno();

        ret->portid = mnl_socket_get_portid(nl);
        ret->seq = (uint32_t) time(NULL);
        ret->nl = TAKE_PTR(nl);
        return 0;
}

static int fw_recv(FwSocket *s, void *buf, size_t size, size_t *ret_len) {
        ssize_t n;

        n = mnl_socket_recvfrom(s->nl, buf, size);
        if (n < 0)
                return errno == EAGAIN ? -ETIMEDOUT : negative_errno();
        *ret_len = (size_t) n;
        return 0;
}

/* ---- batches */

typedef struct FwBatch {
        char *buf;
        struct mnl_nlmsg_batch *b;
        uint32_t seq_begin;     /* seq of the BATCH_BEGIN message */
        uint32_t n_msgs;        /* messages between BEGIN and END, each with NLM_F_ACK */
} FwBatch;

static void fw_batch_done(FwBatch *b) {
        if (b->b)
                mnl_nlmsg_batch_stop(b->b);
        free(b->buf);
        *b = (FwBatch) {};
}

/* genid != 0: the kernel refuses the batch with ERESTART if the ruleset changed since then. */
static int fw_batch_begin(FwSocket *s, FwBatch *b, size_t limit, uint32_t genid) {
        struct nlmsghdr *nlh;

        /* A message may start right below the limit: leave room for one more. Zeroed, as libmnl
         * does not clear attribute padding. */
        *b = (FwBatch) { .buf = calloc(1, limit + FW_BUFFER_SIZE) };
        if (!b->buf)
                return -ENOMEM;
        b->b = mnl_nlmsg_batch_start(b->buf, limit);
        if (!b->b)
                return -ENOMEM;

        b->seq_begin = s->seq++;
        nlh = nftnl_batch_begin(mnl_nlmsg_batch_current(b->b), b->seq_begin);
        if (genid != 0)
                mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
        if (!mnl_nlmsg_batch_next(b->b))
                return -E2BIG;
        return 0;
}

/* Returns the buffer for the next message, and its sequence number. */
static char *fw_batch_slot(FwSocket *s, FwBatch *b, uint32_t *ret_seq) {
        *ret_seq = s->seq++;
        b->n_msgs++;
        return mnl_nlmsg_batch_current(b->b);
}

static int fw_batch_commit(FwBatch *b) {
        if (!mnl_nlmsg_batch_next(b->b))
                return -E2BIG;
        return 0;
}

static int fw_batch_send(FwSocket *s, FwBatch *b) {
        char buf[FW_BUFFER_SIZE];
        uint32_t seq_end, n_acks = 0;
        int r, error = 0;

        seq_end = s->seq++;
        nftnl_batch_end(mnl_nlmsg_batch_current(b->b), seq_end);
        if (!mnl_nlmsg_batch_next(b->b))
                return -E2BIG;

        if (mnl_socket_sendto(s->nl, mnl_nlmsg_batch_head(b->b), mnl_nlmsg_batch_size(b->b)) < 0)
                return negative_errno();

        /* Every message carries NLM_F_ACK, so the kernel answers each of them exactly once (it
         * keeps processing after an error to report them all). An error on the BEGIN message
         * means the batch as a whole was refused (or its commit failed). */
        while (n_acks < b->n_msgs) {
                size_t len;

                r = fw_recv(s, buf, sizeof(buf), &len);
                if (r < 0)
                        return r;

                int left = (int) len;
                for (const struct nlmsghdr *nlh = (const struct nlmsghdr *) buf; mnl_nlmsg_ok(nlh, left);
                     nlh = mnl_nlmsg_next(nlh, &left)) {
                        const struct nlmsgerr *e;

                        if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != s->portid)
                                continue;
                        if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nlmsgerr)))
                                return -EBADMSG;

                        e = mnl_nlmsg_get_payload(nlh);
                        if (nlh->nlmsg_seq == b->seq_begin && e->error < 0)
                                return e->error;
                        if (nlh->nlmsg_seq <= b->seq_begin || nlh->nlmsg_seq >= seq_end)
                                continue;
                        if (e->error < 0 && error == 0)
                                error = e->error;
                        n_acks++;
                }
        }

        return error;
}

/* ---- building messages */

static int fw_batch_add_table(FwSocket *s, FwBatch *b, uint16_t type) {
        _cleanup_(nftnl_table_freep) struct nftnl_table *t = NULL;
        struct nlmsghdr *nlh;
        uint32_t seq;
        char *p;

        t = nftnl_table_alloc();
        if (!t)
                return -ENOMEM;
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, FW_TABLE_NAME);

        p = fw_batch_slot(s, b, &seq);
        /* NEWTABLE without NLM_F_EXCL: an existing table is fine. */
        nlh = nftnl_table_nlmsg_build_hdr(p, type, NFPROTO_IPV4,
                                          (type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0) | NLM_F_ACK, seq);
        nftnl_table_nlmsg_build_payload(nlh, t);
        return fw_batch_commit(b);
}

static int fw_batch_add_chain(FwSocket *s, FwBatch *b, FwChain c) {
        _cleanup_(nftnl_chain_freep) struct nftnl_chain *ch = NULL;
        struct nlmsghdr *nlh;
        uint32_t seq;
        char *p;

        ch = nftnl_chain_alloc();
        if (!ch)
                return -ENOMEM;
        nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, FW_TABLE_NAME);
        nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, fw_chains[c].name);
        nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "nat");
        nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, fw_chains[c].hooknum);
        nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, fw_chains[c].priority);

        /* Without NLM_F_EXCL re-adding an identical base chain is a no-op. */
        p = fw_batch_slot(s, b, &seq);
        nlh = nftnl_chain_nlmsg_build_hdr(p, NFT_MSG_NEWCHAIN, NFPROTO_IPV4, NLM_F_CREATE|NLM_F_ACK, seq);
        nftnl_chain_nlmsg_build_payload(nlh, ch);
        return fw_batch_commit(b);
}

static int fw_batch_add_rule(FwSocket *s, FwBatch *b, struct nftnl_rule *r) {
        struct nlmsghdr *nlh;
        uint32_t seq;
        char *p;

        p = fw_batch_slot(s, b, &seq);
        nlh = nftnl_rule_nlmsg_build_hdr(p, NFT_MSG_NEWRULE, NFPROTO_IPV4,
                                         NLM_F_APPEND|NLM_F_CREATE|NLM_F_ACK, seq);
        nftnl_rule_nlmsg_build_payload(nlh, r);
        return fw_batch_commit(b);
}

static int fw_batch_del_rule(FwSocket *s, FwBatch *b, const char *chain, uint64_t handle) {
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = NULL;
        struct nlmsghdr *nlh;
        uint32_t seq;
        char *p;

        r = nftnl_rule_alloc();
        if (!r)
                return -ENOMEM;
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, FW_TABLE_NAME);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);

        p = fw_batch_slot(s, b, &seq);
        nlh = nftnl_rule_nlmsg_build_hdr(p, NFT_MSG_DELRULE, NFPROTO_IPV4, NLM_F_ACK, seq);
        nftnl_rule_nlmsg_build_payload(nlh, r);
        return fw_batch_commit(b);
}

/* ---- expressions */

static int rule_add_expr(struct nftnl_rule *r, struct nftnl_expr *e) {
        if (!e)
                return -ENOMEM;
        nftnl_rule_add_expr(r, e); /* takes ownership */
        return 0;
}

static int rule_add_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("payload");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
        }
        return rule_add_expr(r, e);
}

static int rule_add_cmp(struct nftnl_rule *r, enum nft_cmp_ops op, const void *data, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("cmp");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
                nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        }
        return rule_add_expr(r, e);
}

static int rule_add_bitwise_mask(struct nftnl_rule *r, const void *mask, uint32_t len) {
        static const uint8_t zero[16] = {};
        struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
        }
        return rule_add_expr(r, e);
}

/* "ip saddr|daddr [!=] addr/prefixlen", encoded like nft does: a byte-aligned prefix loads only
 * its bytes, any other one is masked. */
static int rule_add_ip_prefix(struct nftnl_rule *r, uint32_t offset, enum nft_cmp_ops op,
                              struct in_addr addr, unsigned prefixlen) {
        uint32_t mask = prefixlen == 0 ? 0 : htonl(UINT32_MAX << (32 - prefixlen));
        uint32_t net = addr.s_addr & mask;
        uint32_t len = prefixlen % 8 == 0 ? prefixlen / 8 : 4;
        int k;

        k = rule_add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, len);
        if (k < 0)
                return k;
        if (prefixlen % 8 != 0) {
                k = rule_add_bitwise_mask(r, &mask, len);
                if (k < 0)
                        return k;
        }
        return rule_add_cmp(r, op, &net, len);
}

static int rule_add_fib_daddr_local(struct nftnl_rule *r) {
        uint32_t type = RTN_LOCAL;
        struct nftnl_expr *e = nftnl_expr_alloc("fib");
        int k;

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
                nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
        }
        k = rule_add_expr(r, e);
        if (k < 0)
                return k;
        return rule_add_cmp(r, NFT_CMP_EQ, &type, sizeof(type));
}

static int rule_add_l4_dport(struct nftnl_rule *r, uint8_t proto, uint16_t port) {
        uint16_t be_port = htons(port);
        struct nftnl_expr *e = nftnl_expr_alloc("meta");
        int k;

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
        }
        k = rule_add_expr(r, e);
        if (k < 0)
                return k;
        k = rule_add_cmp(r, NFT_CMP_EQ, &proto, sizeof(proto));
        if (k < 0)
                return k;
        k = rule_add_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, sizeof(be_port)); /* dport */
        if (k < 0)
                return k;
        return rule_add_cmp(r, NFT_CMP_EQ, &be_port, sizeof(be_port));
}

static int rule_add_immediate(struct nftnl_rule *r, enum nft_registers reg, const void *data, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("immediate");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
                nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
        }
        return rule_add_expr(r, e);
}

static int rule_add_dnat(struct nftnl_rule *r, struct in_addr dest, uint16_t dest_port) {
        uint16_t be_port = htons(dest_port);
        struct nftnl_expr *e;
        int k;

        k = rule_add_immediate(r, NFT_REG_1, &dest.s_addr, sizeof(dest.s_addr));
        if (k < 0)
                return k;
        k = rule_add_immediate(r, NFT_REG_2, &be_port, sizeof(be_port));
        if (k < 0)
                return k;

        e = nftnl_expr_alloc("nat");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
                nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
                nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
                nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS|NF_NAT_RANGE_PROTO_SPECIFIED);
        }
        return rule_add_expr(r, e);
}

static int rule_new(const char *machine, FwChain c, struct nftnl_rule **ret) {
        _cleanup_(nftnl_udata_buf_freep) struct nftnl_udata_buf *udata = NULL;
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = NULL;
        _cleanup_free_ char *comment = NULL;

        comment = strjoin(FW_COMMENT_PREFIX, machine);
        if (!comment)
                return -ENOMEM;

        udata = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
        if (!udata)
                return -ENOMEM;
        if (!nftnl_udata_put_strz(udata, NFTNL_UDATA_RULE_COMMENT, comment))
                return -ENAMETOOLONG;

        r = nftnl_rule_alloc();
        if (!r)
                return -ENOMEM;
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, FW_TABLE_NAME);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, fw_chains[c].name);
        nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(udata), nftnl_udata_buf_len(udata));

        *ret = TAKE_PTR(r);
        return 0;
}

/* One atomic batch: table, the given chains, the given rules. */
static int fw_add_rules(FwChain *chains, struct nftnl_rule **rules, size_t n) {
        _cleanup_(fw_socket_done) FwSocket s = {};
        _cleanup_(fw_batch_done) FwBatch b = {};
        int r;

        r = fw_socket_open(&s);
        if (r < 0)
                return r;
        r = fw_batch_begin(&s, &b, FW_BUFFER_SIZE, 0);
        if (r < 0)
                return r;
        r = fw_batch_add_table(&s, &b, NFT_MSG_NEWTABLE);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = fw_batch_add_chain(&s, &b, chains[i]);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                r = fw_batch_add_rule(&s, &b, rules[i]);
                if (r < 0)
                        return r;
        }
        return fw_batch_send(&s, &b);
}

int fw_add_masquerade(const char *machine, struct in_addr subnet, unsigned prefixlen) {
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *rule = NULL;
        FwChain chain = FW_CHAIN_POSTROUTING;
        int r;

        if (!machine || !machine_name_is_valid(machine))
                return -EINVAL;
        if (prefixlen < 1 || prefixlen > 32)
                return -EINVAL;

        r = rule_new(machine, chain, &rule);
        if (r < 0)
                return r;
        /* ip saddr <subnet> ip daddr != <subnet> masquerade */
        r = rule_add_ip_prefix(rule, offsetof(struct iphdr, saddr), NFT_CMP_EQ, subnet, prefixlen);
        if (r < 0)
                return r;
        r = rule_add_ip_prefix(rule, offsetof(struct iphdr, daddr), NFT_CMP_NEQ, subnet, prefixlen);
        if (r < 0)
                return r;
        r = rule_add_expr(rule, nftnl_expr_alloc("masq"));
        if (r < 0)
                return r;

        return fw_add_rules(&chain, &rule, 1);
}

static int port_forward_rule(const char *machine, FwChain c, uint8_t proto, uint16_t host_port,
                             struct in_addr dest, uint16_t dest_port, struct nftnl_rule **ret) {
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *rule = NULL;
        int r;

        r = rule_new(machine, c, &rule);
        if (r < 0)
                return r;
        if (c == FW_CHAIN_OUTPUT) {
                /* ip daddr != 127.0.0.0/8: see the header for why loopback is not forwarded */
                struct in_addr loopback = { .s_addr = htonl(INADDR_LOOPBACK) };

                r = rule_add_ip_prefix(rule, offsetof(struct iphdr, daddr), NFT_CMP_NEQ, loopback, 8);
                if (r < 0)
                        return r;
        }
        r = rule_add_fib_daddr_local(rule);
        if (r < 0)
                return r;
        r = rule_add_l4_dport(rule, proto, host_port);
        if (r < 0)
                return r;
        r = rule_add_dnat(rule, dest, dest_port);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(rule);
        return 0;
}

int fw_add_port_forward(const char *machine, int proto, uint16_t host_port, struct in_addr dest, uint16_t dest_port) {
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *pre = NULL, *out = NULL;
        FwChain chains[] = { FW_CHAIN_PREROUTING, FW_CHAIN_OUTPUT };
        int r;

        if (!machine || !machine_name_is_valid(machine))
                return -EINVAL;
        if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
                return -EPROTONOSUPPORT;
        if (host_port == 0 || dest_port == 0 || dest.s_addr == INADDR_ANY)
                return -EINVAL;

        r = port_forward_rule(machine, FW_CHAIN_PREROUTING, (uint8_t) proto, host_port, dest, dest_port, &pre);
        if (r < 0)
                return r;
        r = port_forward_rule(machine, FW_CHAIN_OUTPUT, (uint8_t) proto, host_port, dest, dest_port, &out);
        if (r < 0)
                return r;

        return fw_add_rules(chains, (struct nftnl_rule *[]) { pre, out }, ELEMENTSOF(chains));
}

/* ---- listing */

static int fw_get_genid(FwSocket *s, uint32_t *ret) {
        _cleanup_(nftnl_gen_freep) struct nftnl_gen *gen = NULL;
        char buf[FW_BUFFER_SIZE] = {};
        struct nlmsghdr *nlh;
        uint32_t seq = s->seq++;

        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, 0, seq);
        if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();

        gen = nftnl_gen_alloc();
        if (!gen)
                return -ENOMEM;

        for (;;) {
                size_t len;
                int r;

                r = fw_recv(s, buf, sizeof(buf), &len);
                if (r < 0)
                        return r;

                int left = (int) len;
                for (nlh = (struct nlmsghdr *) buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
                        if (nlh->nlmsg_seq != seq)
                                continue;
                        if (nlh->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
                                return e->error < 0 ? e->error : -EBADMSG;
                        }
                        if (nftnl_gen_nlmsg_parse(nlh, gen) < 0)
                                return -EBADMSG;
                        *ret = nftnl_gen_get_u32(gen, NFTNL_GEN_ID);
                        return 0;
                }
        }
}

static int rule_list_cb(const struct nlmsghdr *nlh, void *userdata) {
        struct nftnl_rule_list *list = userdata;
        struct nftnl_rule *r;

        r = nftnl_rule_alloc();
        if (!r)
                return MNL_CB_ERROR; /* errno is ENOMEM */
        if (nftnl_rule_nlmsg_parse(nlh, r) < 0) {
                nftnl_rule_free(r);
                errno = EBADMSG;
                return MNL_CB_ERROR;
        }
        nftnl_rule_list_add_tail(r, list);
        return MNL_CB_OK;
}

/* All rules of our table; an empty list if there is no table. */
static int fw_dump_rules(FwSocket *s, struct nftnl_rule_list **ret) {
        _cleanup_(nftnl_rule_list_freep) struct nftnl_rule_list *list = NULL;
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *filter = NULL;
        char buf[FW_BUFFER_SIZE] = {};
        struct nlmsghdr *nlh;
        uint32_t seq = s->seq++;
        int r;

        list = nftnl_rule_list_alloc();
        filter = nftnl_rule_alloc();
        if (!list || !filter)
                return -ENOMEM;
        nftnl_rule_set_str(filter, NFTNL_RULE_TABLE, FW_TABLE_NAME);

        nlh = nftnl_rule_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_IPV4, NLM_F_DUMP, seq);
        nftnl_rule_nlmsg_build_payload(nlh, filter);
        if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();

        do {
                size_t len;

                r = fw_recv(s, buf, sizeof(buf), &len);
                if (r < 0)
                        return r;
                r = mnl_cb_run(buf, len, seq, s->portid, rule_list_cb, list);
                if (r < 0 && errno == ENOENT)
                        break; /* no table */
                if (r < 0)
                        return negative_errno();
        } while (r > 0);

        *ret = TAKE_PTR(list);
        return 0;
}

static int udata_comment_cb(const struct nftnl_udata *attr, void *userdata) {
        const char **comment = userdata;
        const char *value = nftnl_udata_get(attr);
        uint8_t len = nftnl_udata_len(attr);

        if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && len > 0 && value[len - 1] == '\0')
                *comment = value;
        return 0;
}

/* The machine name from the rule's "berth:<machine>" comment, or NULL. */
static const char *rule_machine(const struct nftnl_rule *r) {
        const char *comment = NULL;
        const void *data;
        uint32_t len;

        if (!nftnl_rule_is_set(r, NFTNL_RULE_USERDATA))
                return NULL;
        data = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
        if (!data || nftnl_udata_parse(data, len, udata_comment_cb, &comment) < 0 || !comment)
                return NULL;
        return startswith(comment, FW_COMMENT_PREFIX);
}

static int fw_remove_machine_once(FwSocket *s, const char *machine) {
        _cleanup_(nftnl_rule_list_iter_destroyp) struct nftnl_rule_list_iter *it = NULL;
        _cleanup_(nftnl_rule_list_freep) struct nftnl_rule_list *list = NULL;
        _cleanup_(fw_batch_done) FwBatch b = {};
        unsigned n_total = 0, n_match = 0;
        uint32_t genid;
        int r;

        r = fw_get_genid(s, &genid);
        if (r < 0)
                return r;
        r = fw_dump_rules(s, &list);
        if (r < 0)
                return r;

        it = nftnl_rule_list_iter_create(list);
        if (!it)
                return -ENOMEM;
        for (struct nftnl_rule *rule = nftnl_rule_list_iter_next(it); rule; rule = nftnl_rule_list_iter_next(it)) {
                const char *m = rule_machine(rule);

                n_total++;
                if (m && streq(m, machine))
                        n_match++;
        }
        if (n_match == 0)
                return 0;

        /* a DELRULE message is well below 128 bytes */
        r = fw_batch_begin(s, &b, FW_BUFFER_SIZE + 128 * n_match, genid);
        if (r < 0)
                return r;

        nftnl_rule_list_iter_destroy(it);
        it = nftnl_rule_list_iter_create(list);
        if (!it)
                return -ENOMEM;
        for (struct nftnl_rule *rule = nftnl_rule_list_iter_next(it); rule; rule = nftnl_rule_list_iter_next(it)) {
                const char *m = rule_machine(rule);

                if (!m || !streq(m, machine))
                        continue;
                r = fw_batch_del_rule(s, &b, nftnl_rule_get_str(rule, NFTNL_RULE_CHAIN),
                                      nftnl_rule_get_u64(rule, NFTNL_RULE_HANDLE));
                if (r < 0)
                        return r;
        }

        /* The last rules are gone: drop the whole table (with its chains). Rules added by anybody in
         * the meantime bump the generation, and the kernel refuses this batch with ERESTART. */
        if (n_match == n_total) {
                r = fw_batch_add_table(s, &b, NFT_MSG_DELTABLE);
                if (r < 0)
                        return r;
        }

        r = fw_batch_send(s, &b);
        if (r < 0)
                return r;
        return (int) n_match;
}

int fw_remove_machine(const char *machine) {
        _cleanup_(fw_socket_done) FwSocket s = {};
        int r;

        if (!machine || !machine_name_is_valid(machine))
                return -EINVAL;

        r = fw_socket_open(&s);
        if (r < 0)
                return r;

        for (unsigned attempt = 0;; attempt++) {
                r = fw_remove_machine_once(&s, machine);
                if (r != -ERESTART || attempt + 1 >= FW_REMOVE_ATTEMPTS)
                        return r;
        }
}

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

int fw_list_machines(char ***ret) {
        _cleanup_(nftnl_rule_list_iter_destroyp) struct nftnl_rule_list_iter *it = NULL;
        _cleanup_(nftnl_rule_list_freep) struct nftnl_rule_list *list = NULL;
        _cleanup_(fw_socket_done) FwSocket s = {};
        _cleanup_strv_free_ char **names = NULL;
        int r;

        assert(ret);

        r = fw_socket_open(&s);
        if (r < 0)
                return r;
        r = fw_dump_rules(&s, &list);
        if (r < 0)
                return r;

        names = calloc(1, sizeof(char *));
        if (!names)
                return -ENOMEM;

        it = nftnl_rule_list_iter_create(list);
        if (!it)
                return -ENOMEM;
        for (struct nftnl_rule *rule = nftnl_rule_list_iter_next(it); rule; rule = nftnl_rule_list_iter_next(it)) {
                const char *m = rule_machine(rule);

                if (isempty(m) || strv_contains(names, m))
                        continue;
                r = strv_extend(&names, m);
                if (r < 0)
                        return r;
        }

        qsort(names, strv_length(names), sizeof(char *), cmp_strp);
        *ret = TAKE_PTR(names);
        return (int) strv_length(*ret);
}
