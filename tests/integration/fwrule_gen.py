"""A generator of Triton firewall rules, valid and invalid, for comparing
hull's rule parser with Triton's own (see test_fwrule_oracle.py).

It builds rules from the grammar with every target kind, protocol form and
number boundary, in upper and lower case and with odd whitespace, then
breaks some of them (a token dropped, doubled, swapped or replaced, the text
cut short) so the refusals get compared as well as the acceptances.
"""
import random

UUIDS = ["1f0e3a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
         "00000000-0000-0000-0000-000000000000",
         "ffffffff-ffff-4fff-bfff-ffffffffffff",
         "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"]
BAD_UUIDS = ["1F0E3A2B-4C5D-4E6F-8A9B-0C1D2E3F4A5B", "1f0e3a2b-4c5d-4e6f-8a9b",
             "1f0e3a2b4c5d4e6f8a9b0c1d2e3f4a5b", "zzzzzzzz-0000-0000-0000-000000000000"]
IPV4 = ["192.0.2.1", "198.51.100.7", "203.0.113.255", "10.0.0.1", "1.2.3.4",
        "0.0.0.1", "255.255.255.254",
        "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3.04",
        "192.0.2.1000", "999.999.999.999"]
IPV6 = ["2001:db8::1", "::1", "::", "fe80::1", "2001:db8:0:0:0:0:0:1",
        "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", "1::2::3",
        "1:2:3:4:5:6:7:8:9", "12345::1", "2001:DB8::1", "2001:db8::g",
        "fe80:::1", "1:2:3:4:5:6::7:8", "2001:db8:0000::1", ":1:2", "1::"]
SUB4 = ["192.0.2.0/24", "10.0.0.0/8", "0.0.0.0/0", "192.0.2.1/32",
        "192.0.2.0/33", "010.0.0.0/8", "300.0.0.0/8", "192.0.2.7/24",
        "198.51.100.0/008", "255.255.255.255/32", "192.0.2.0/1000"]
SUB6 = ["2001:db8::/32", "::/0", "fe80::/10", "2001:db8::/128", "2001:db8::/129",
        "1:2:3:4::5:6:7:8/64", "00000001::/64", "1:2:3:4:5:6:7:8:9/64",
        "2001:db8::1/64", "1::2::3/64", "2001:0db8:0000:0000:0000:0000:0000:0001/64"]
WORDS = ["role", "db", "www", "a", "x_y", "web-1", "123", "0", "any-thing",
         "tcp", "TAG", "Role", "__proto__", "k", "v", "a-b-c", "tag1",
         "vms", "FROM", "From", "from-x", "-x", "x-"]
STRINGS = ['"role"', '"with space"', '"q\\"uote"', '"back\\\\slash"',
           '"par\\(en\\)"', '"nl\\nx"', '"tab\\tx"', '"\\u00e9t\\u00E9"',
           '"\\u0000"', '"\\uD83D\\uDE00"', '"\u00e9l\u00e8ve"', '"sl\\/ash"',
           '""', '"(paren)"', '"a=b"',
           '"\\u0007bell"', '"\u00a0nbsp"', '"\\u2028"',
           '"__proto__"', '"OR"', '"\u4e2d\u6587"', '"\\b\\f\\r"',
           '"bad\\xescape"', '"unterminated', '"\\u12"']
SPACES = [" ", " ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u2003", "\ufeff",
          " \r\n "]


CLEAN = {"IPV4": 7, "IPV6": 8, "SUB4": 4, "SUB6": 4, "STRINGS": 22}


def pick(rnd, name, lst):
    """A choice from lst; in a clean rule only from its leading valid part."""
    if getattr(rnd, "clean", False) and name in CLEAN:
        return rnd.choice(lst[:CLEAN[name]])
    return rnd.choice(lst)


def kw(rnd, word):
    r = rnd.random()
    if getattr(rnd, "clean", False):
        return word.upper() if r < 0.6 else word.lower()
    if r < 0.6:
        return word.upper()
    if r < 0.97:
        return word.lower()
    return word.capitalize()


def tag_str(rnd):
    return rnd.choice(WORDS) if rnd.random() < 0.5 else pick(rnd, 'STRINGS', STRINGS)


def target(rnd, k):
    r = rnd.random()
    if r < 0.2:
        return f"{k('ip')} {pick(rnd, 'IPV4', IPV4)}"
    if r < 0.3:
        return f"{k('ip')} {pick(rnd, 'IPV6', IPV6)}"
    if r < 0.42:
        return f"{k('subnet')} {pick(rnd, 'SUB4', SUB4)}"
    if r < 0.5:
        return f"{k('subnet')} {pick(rnd, 'SUB6', SUB6)}"
    if r < 0.65:
        u = rnd.choice(UUIDS)
        if rnd.random() < 0.1 and not getattr(rnd, "clean", False):
            u = rnd.choice(BAD_UUIDS)
        return f"{k('vm')} {u}"
    t = f"{k('tag')} {tag_str(rnd)}"
    if rnd.random() < 0.5:
        t += f"{rnd.choice(['', ' '])}={rnd.choice(['', ' '])}{tag_str(rnd)}"
    return t


def side(rnd, k):
    r = rnd.random()
    if r < 0.15:
        return k("any")
    if r < 0.3:
        return f"{k('all')} {k('vms')}"
    if r < 0.33:
        return f"({k('any')})"
    if r < 0.36:
        return f"( {k('all')} {k('vms')} )"
    if r < 0.6:
        return target(rnd, k)
    n = rnd.choice([1, 2, 2, 3, 3, 4, 5, 8, 24, 25])
    ts = [target(rnd, k) for _ in range(n)]
    if rnd.random() < 0.2 and ts:
        ts.append(ts[0])
    return "(" + f" {k('or')} ".join(ts) + ")"


def num(rnd, lo, hi):
    r = rnd.random()
    if r < 0.7 or getattr(rnd, "clean", False):
        return str(rnd.randint(lo, hi))
    return rnd.choice([str(lo), str(hi), str(lo - 1), str(hi + 1), "0" + str(hi),
                       "00" + str(lo + 1), "1e3", "abc", "-1", "4294967297",
                       "000000000000000000080"])


def ports(rnd, k):
    r = rnd.random()
    if r < 0.3:
        return f"{k('port')} {num(rnd, 1, 65535)}"
    if r < 0.38:
        return f"{k('port')} {k('all')}"
    if r < 0.42:
        return f"({k('port')} {k('all')})"
    if r < 0.6:
        n = rnd.choice([1, 2, 3, 8, 24, 25])
        return "(" + f" {k('and')} ".join(
            f"{k('port')} {num(rnd, 1, 65535)}" for _ in range(n)) + ")"
    items = []
    for _ in range(rnd.choice([1, 2, 3, 5, 24, 25])):
        q = rnd.random()
        a, b = sorted([rnd.randint(1, 65535), rnd.randint(1, 65535)])
        if q < 0.4:
            items.append(num(rnd, 1, 65535))
        elif q < 0.6:
            items.append(f"{a}-{b}")
        elif q < 0.8:
            items.append(f"{a} - {b}")
        elif q < 0.87:
            items.append(f"{b} - {a}" if a != b else f"{a}-{a}")
        else:
            items.append(rnd.choice([f"{a}-{b}-{b}", f"{a}-", f"{a}--{b}",
                                     f"{b}-{a}", f"{a}-x", "80-080"]))
    return f"{k('ports')} " + ", ".join(items)


def types(rnd, k):
    def one():
        t = f"{k('type')} {num(rnd, 0, 255)}"
        if rnd.random() < 0.5:
            t += f" {k('code')} {num(rnd, 0, 255)}"
        return t
    r = rnd.random()
    if r < 0.4:
        return one()
    if r < 0.5:
        return f"{k('type')} {k('all')}"
    if r < 0.55:
        return f"({k('type')} {k('all')})"
    n = rnd.choice([1, 2, 3, 4, 6, 24, 25])
    return "(" + f" {k('and')} ".join(one() for _ in range(n)) + ")"


def proto(rnd, k):
    r = rnd.random()
    if r < 0.35:
        return f"{k('tcp')} {ports(rnd, k)}"
    if r < 0.55:
        return f"{k('udp')} {ports(rnd, k)}"
    if r < 0.75:
        return f"{k('icmp')} {types(rnd, k)}"
    if r < 0.9:
        return f"{k('icmp6')} {types(rnd, k)}"
    return k(rnd.choice(["ah", "esp"]))


def rule(rnd):
    def k(w):
        return kw(rnd, w)
    text = (f"{k('from')} {side(rnd, k)} {k('to')} {side(rnd, k)} "
            f"{k(rnd.choice(['allow', 'block']))} {proto(rnd, k)}")
    if rnd.random() < 0.25:
        text += f" {k('priority')} {num(rnd, 0, 100)}"
    return text


def respace(rnd, text):
    """Replaces some spaces with other whitespace, or removes them next to
    punctuation."""
    out = []
    for i, c in enumerate(text):
        if c == " " and rnd.random() < 0.15:
            prev = text[i - 1] if i else ""
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if prev in "(),=" or nxt in "(),=":
                continue
            out.append(rnd.choice(SPACES))
        else:
            out.append(c)
    return "".join(out)


TOKENS = ["FROM", "TO", "any", "all", "vms", "(", ")", "OR", "AND", "ip",
          "tag", "vm", "=", ",", "-", "PORT", "PORTS", "80", "ALLOW", "tcp",
          "icmp", "TYPE", "CODE", "PRIORITY", '"x"', "192.0.2.1", "/24", "!",
          "'", "ALL", "{"]


def mutate(rnd, text):
    toks = text.split(" ")
    r = rnd.random()
    i = rnd.randrange(len(toks))
    if r < 0.25:
        del toks[i]
    elif r < 0.4:
        toks.insert(i, toks[i])
    elif r < 0.55 and len(toks) > 1:
        j = min(i + 1, len(toks) - 1)
        toks[i], toks[j] = toks[j], toks[i]
    elif r < 0.75:
        toks[i] = rnd.choice(TOKENS)
    elif r < 0.85:
        toks.insert(i, rnd.choice(TOKENS))
    else:
        return text[:rnd.randrange(len(text) + 1)]
    return " ".join(toks)


def generate(seed, count):
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        rnd.clean = rnd.random() < 0.5
        t = rule(rnd)
        r = rnd.random()
        if r < 0.3:
            t = respace(rnd, t)
        elif r < 0.55:
            t = mutate(rnd, t)
        out.append(t)
    # Fixed cases worth having every time.
    out += ["", " ", "FROM", "FROM any TO all vms ALLOW tcp PORT 22",
            "from any to all vms allow tcp port 22",
            "FROM any TO any ALLOW tcp PORT 22",
            "FROM (any) TO (all vms) BLOCK udp (PORT ALL)",
            "FROM tag a TO tag a = b ALLOW tcp PORT 1",
            "FROM (tag a = b OR tag a) TO all vms ALLOW tcp PORT 1",
            "FROM tag __proto__ TO all vms ALLOW tcp PORT 1",
            "FROM tag a = __proto__ TO any ALLOW tcp PORT 1",
            "FROM all vms TO any ALLOW icmp (TYPE 8 CODE 0 AND TYPE 3 AND TYPE 0 CODE 1)",
            "FROM all vms TO any ALLOW icmp (TYPE 9 AND TYPE 3 CODE 1 AND TYPE 0 AND TYPE 2 CODE 0)",
            "FROM all vms TO any ALLOW tcp (PORT 80 AND PORT 80 AND PORT 22)",
            "FROM all vms TO any ALLOW tcp PORTS 80-90, 22, 80",
            "FROM all vms TO ip 192.0.2.1 ALLOW icmp6 TYPE 128",
            "FROM all vms TO subnet 010.0.0.0/8 ALLOW icmp TYPE 8",
            "FROM all vms TO subnet 1:2:3:4::5:6:7:8/64 ALLOW icmp6 TYPE 128",
            "FROM all vms TO any ALLOW ah PRIORITY 100",
            "FROM all vms TO any ALLOW esp PRIORITY 0"]
    return out
