#!/usr/bin/env python3
"""Generates route_cases.jsonl: the route tester's acceptance cases (issue 4).

Every case's expectation is derived from edgehub-reference.md §3, either written by hand or computed
by the small, independent Python model below (ordinal comparisons, IEEE arithmetic, Kleene logic,
the substring range rules). It never runs edgehubd's engine. Regenerate with:
    python3 tests/component/routing/make_route_cases.py > tests/component/routing/route_cases.jsonl
An expectation of "compile_error" matches any "compile_error: <message>" line (the messages
themselves are pinned by tests/golden/routing/compile_errors.txt).
"""
import json
import math
import sys

cases = []


def case(expected, rule, condition=None, route=None, message=None):
    c = {}
    if condition is not None:
        c["condition"] = condition
    if route is not None:
        c["route"] = route
    c["message"] = message if message is not None else {}
    c["expected"] = expected
    c["rule"] = rule
    cases.append(c)


def tri(b):
    return "true" if b else "false"


STD = {
    "system_properties": {"messageId": "mid-1", "correlationId": "corr-1",
                          "connectionDeviceId": "dev1", "userId": "4"},
    "properties": {"key1": "value1", "key2": "3", "key3": "VALUE3", "null_value": None,
                   "$messageId": "app-wins", "level": "7", "sensor": "a"},
}

# ---- literal comparisons (§3.6: doubles numeric, strings ordinal, Bool vs Bool) ----------------
OPS = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<>": lambda a, b: a != b,
       "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
       ">=": lambda a, b: a >= b}
nums = ["-2", "0", "1.5", "3", "7"]
for a in nums:
    for b in nums:
        for op, f in OPS.items():
            case(tri(f(float(a), float(b))), "§3.6 double comparison", f"{a} {op} {b}")
strs = ["a", "b", "ab", "B", ""]
for a in strs:
    for b in strs:
        for op in ["=", "<>", "<", ">="]:
            case(tri(OPS[op](a.encode(), b.encode())), "§3.6 ordinal string comparison",
                 f"'{a}' {op} '{b}'")
for a in ["true", "false"]:
    for b in ["true", "false"]:
        for op in ["=", "!="]:
            case(tri(OPS[op](a == "true", b == "true")), "§3.6 Bool comparison", f"{a} {op} {b}")

# ---- Kleene logic with edgeHub's Null (§3.6, Rt/query/Bool.cs, Null.cs) -------------------------
VALS = {"true": True, "false": False, "undefined": None, "(none = 'x')": None}


def k_and(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def k_or(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def show(v):
    return "undefined" if v is None else tri(v)


for a, va in VALS.items():
    for b, vb in VALS.items():
        case(show(k_and(va, vb)), "§3.6 AND three-valued", f"{a} AND {b}")
        case(show(k_or(va, vb)), "§3.6 OR three-valued", f"{a} or {b}")
for a, va in [("true", True), ("false", False), ("(none = 'x')", None)]:
    case(show(None if va is None else not va), "§3.6 NOT Undefined is Undefined", f"NOT {a}")
for other in ["true", "false", "undefined"]:
    case("false", "§3.6 null AND x is null, a false condition", f"null AND {other}")
    case("false", "§3.6 null AND x is null, a false condition", f"{other} and null")
    v = {"true": "true", "false": "false", "undefined": "undefined"}[other]
    case(v, "§3.6 null OR x is x", f"null OR {other}")
case("false", "§3.6 null OR null is null", "null or null")
case("true", "§3.6 NOT null is True", "not null")
case("false", "§3.6 a null condition does not route", "null")
case("true", "§3.6 null = null", "null = null")
case("true", "§3.6 null <= null", "null <= null")
case("false", "§3.6 null < null", "null < null")

# ---- arithmetic (§3.6: doubles only; NaN is undefined) -------------------------------------------
ARITH = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
         "/": lambda a, b: (a / b if b != 0 else (math.nan if a == 0 else math.copysign(math.inf, a))),
         "%": lambda a, b: math.fmod(a, b) if b != 0 else math.nan}
for a in ["-3", "0", "2", "5"]:
    for b in ["-3", "0", "2", "5"]:
        for op, f in ARITH.items():
            r = f(float(a), float(b))
            if math.isnan(r):
                case("false", "§3.6 NaN double is undefined", f"is_defined({a} {op} {b})")
            elif math.isinf(r):
                sign = "" if r > 0 else "-"
                case("true", "§3.6 IEEE infinity", f"{a} {op} {b} = {sign}1 / 0")
            else:
                case("true", "§3.6 double arithmetic", f"{a} {op} {b} = {repr(r)}")

# ---- math builtins (§3.7) ------------------------------------------------------------------------
for x in ["-2.5", "-1", "0", "0.5", "4", "9"]:
    v = float(x)
    case("true", "§3.7 abs", f"abs({x}) = {repr(abs(v))}")
    case("true", "§3.7 ceiling", f"ceiling({x}) = {repr(float(math.ceil(v)))}")
    case("true", "§3.7 floor", f"floor({x}) = {repr(float(math.floor(v)))}")
    case("true", "§3.7 sign", f"sign({x}) = {(v > 0) - (v < 0)}")
    case("true", "§3.7 square", f"square({x}) = {repr(v * v)}")
    if v < 0:
        case("false", "§3.7 sqrt of a negative is NaN, undefined", f"is_defined(sqrt({x}))")
    else:
        case("true", "§3.7 sqrt", f"abs(sqrt({x}) - {repr(math.sqrt(v))}) < 1e-12")
    case("true", "§3.7 exp", f"abs(exp({x}) - {repr(math.exp(v))}) < 1e-9")
for a, b in [("2", "3"), ("2", "-1"), ("9", "0.5"), ("-8", "0.5"), ("0", "0"), ("10", "300")]:
    r = math.pow(float(a), float(b)) if not (float(a) < 0 and float(b) != int(float(b))) else math.nan
    if math.isnan(r):
        case("false", "§3.7 power NaN is undefined", f"is_defined(power({a}, {b}))")
    else:
        case("true", "§3.7 power", f"power({a}, {b}) = {repr(r)}")
case("true", "§3.7 power overflow is infinity", "power(10, 4000) = 1 / 0")
for f in ["abs", "exp", "ceiling", "floor", "sign", "sqrt", "square"]:
    case("false", "§3.7 math on a non-number runtime value is undefined",
         f"is_defined({f}(as_number(key1)))", message=STD)
    case("compile_error", "§3.7 math needs a double (static)", f"{f}(key1) = 1", message=STD)
    case("compile_error", "§3.7 arity", f"{f}(1, 2) = 1")
    case("compile_error", "§3.7 null literal is not a double", f"is_defined({f}(null))")

# ---- string builtins (§3.7; UTF-16 positions, ordinal) --------------------------------------------
words = ["hello", "HeLLo", "", "abcabc"]
for s in words:
    case("true", "§3.7 length", f"length('{s}') = {len(s)}")
    case("true", "§3.7 lower", f"lower('{s}') = '{s.lower()}'")
    case("true", "§3.7 upper", f"upper('{s}') = '{s.upper()}'")
    for t in ["l", "bc", "", "z", "HeL"]:
        case("true", "§3.7 index_of ordinal", f"index_of('{s}', '{t}') = {s.find(t)}")
        case(tri(s.startswith(t)), "§3.7 starts_with ordinal", f"starts_with('{s}', '{t}')")
        case(tri(s.endswith(t)), "§3.7 ends_with ordinal", f"ends_with('{s}', '{t}')")
        case(tri(t in s), "§3.7 contains ordinal", f"contains('{s}', '{t}')")
for s in ["hello", "ab"]:
    L = len(s)
    for i in range(-1, L + 2):
        ok = 0 <= i <= L
        case("true" if ok else "undefined", "§3.7 substring(s, start): start <= length",
             f"substring('{s}', {i}) = '{s[i:] if ok else ''}'")
        for n in [-1, 0, 1, 2, 5]:
            ok3 = i >= 0 and n >= 0 and i < L and i + n <= L
            case("true" if ok3 else "undefined",
                 "§3.7 substring(s, start, len): start < length and len fits",
                 f"substring('{s}', {i}, {n}) = '{s[i:i + n] if ok3 else ''}'")
case("true", "§3.7 concat", "concat('a', 'b', 'c') = 'abc'")
case("true", "§3.7 concat of a property", "concat('a', key1, 'd') = 'avalue1d'", message=STD)
case("true", "§3.7 concat: a null string is empty", "concat('a', null_value, 'd') = 'ad'", message=STD)
case("false", "§3.7 concat: undefined if any argument is", "is_defined(concat('a', none))", message=STD)
case("compile_error", "§3.7 concat needs at least 2 strings", "concat('a') = 'a'")
case("compile_error", "§3.7 concat needs strings", "concat('a', 1) = 'a1'")
case("true", "§3.6 || concatenates", "'a' || 'b' || 'c' = 'abc'")
case("compile_error", "§3.6 || needs strings", "'a' || 1 = 'a1'")
for f in ["length", "lower", "upper"]:
    case("false", "§3.7 undefined for a null string", f"is_defined({f}(null_value))", message=STD)
    case("false", "§3.7 undefined for a missing property", f"is_defined({f}(none))", message=STD)
    case("compile_error", "§3.7 needs a string", f"is_defined({f}(1))")
for f in ["starts_with", "ends_with", "contains", "index_of"]:
    case("undefined", "§3.7 undefined on a non-string runtime value", f"{f}(null_value, 'a') = {f}(null_value, 'a')"
         if f == "index_of" else f"{f}(null_value, 'a')", message=STD)
    case("compile_error", "§3.7 arity", f"{f}('a')")
    case("compile_error", "§3.7 string arguments", f"{f}('a', 1)")

# ---- as_number and type checks (§3.7) -----------------------------------------------------------
for text, val in [("3", "3"), (" 42 ", "42"), ("-1.5", "-1.5"), ("1e3", "1000"), ("1,234", "1234"),
                  ("(5)", "-5"), ("+7", "7"), (".5", "0.5"), ("10e1000", "1 / 0")]:
    case("true", "§3.7 as_number, invariant culture", f"as_number('{text}') = {val}")
for text in ["abc", "", "0x10", "1 2", "NaN", "1e", "--1"]:
    case("false", "§3.7 as_number: unparsable is undefined", f"is_defined(as_number('{text}'))")
case("true", "§3.7 as_number of a property", "as_number(level) > 3", message=STD)
case("true", "§3.7 as_number passes a double through", "as_number(as_number('4')) = 4")
case("compile_error", "§3.7 as_number needs a string", "as_number(true) = 1")
checks = [("is_bool(true)", "true"), ("is_bool(1)", "false"), ("is_bool(key1)", "false"),
          ("is_number(1.5)", "true"), ("is_number(1 / 0)", "false"), ("is_number(0 / 0)", "false"),
          ("is_number('1')", "false"), ("is_string('x')", "true"), ("is_string(key1)", "true"),
          ("is_string(null_value)", "false"), ("is_string(none)", "false"),
          ("is_defined(key1)", "true"), ("is_defined(none)", "false"),
          ("is_defined(null_value)", "true"), ("is_defined(null)", "true"),
          ("is_defined(undefined)", "false"), ("is_defined(3 % 0)", "false"),
          ("is_defined(undefined and true)", "false"), ("is_null(null)", "true"),
          ("is_null(null_value)", "true"), ("is_null(none)", "false"), ("is_null(key1)", "false"),
          ("is_null(3 / 0)", "false"), ("IS_DEFINED(key1)", "true"), ("Is_Null(null)", "true")]
for c, e in checks:
    case(e, "§3.7 type checks", c, message=STD)

# ---- property lookup (§3.5) -----------------------------------------------------------------------
props = [("key1 = 'value1'", "true"), ("KEY1 = 'value1'", "true"), ("key1 = 'VALUE1'", "false"),
         ("none = 'x'", "undefined"), ("key2 = '3'", "true"), ("$messageId = 'app-wins'", "true"),
         ("{$messageId} = 'mid-1'", "true"), ("{ $messageId } = 'mid-1'", "true"),
         ("$cid = 'corr-1'", "true"), ("$correlationId = 'corr-1'", "true"),
         ("$connectionDeviceId = 'dev1'", "true"), ("$CONNECTIONDEVICEID = 'dev1'", "true"),
         ("$connectionDeviceId = 'DEV1'", "false"), ("as_number($userId) = 4", "true"),
         ("$userId = '4'", "true"), ("messageId = 'mid-1'", "undefined"),
         ("is_defined($connectionModuleId)", "false"), ("NOT IS_DEFINED($connectionModuleId)", "true"),
         ("is_defined($connectionAuthMethod)", "false"), ("is_defined($nosuch)", "false"),
         ("null_value = 'x'", "undefined"), ("null_value <> 'x'", "undefined"),
         ("sensor = 'a' AND as_number(level) > 3", "true"),
         ("sensor = 'b' OR as_number(level) < 3", "false"),
         ("key1 = 'value1' AND missing = 'x'", "undefined"),
         ("key1 = 'value2' AND missing = 'x'", "false")]
for c, e in props:
    case(e, "§3.5 property lookup", c, message=STD)
for c in ["temp > 30", "$userId = 4", "$contentType = 1", "key2 + 1 = 4", "key1 = null",
          "3 = undefined", "key1 ?? null", "key1 ?? 12.34", "key1 and true", "not key1",
          "NOT key1 = 'value1'"]:
    case("compile_error", "§3.6 static typing: mismatches are compile errors", c, message=STD)
SYS = ["messageId", "cid", "to", "userId", "ack", "contentType", "contentEncoding", "messageSchema",
       "creationTime", "absolute-expiry-time", "connectionDeviceId", "connectionModuleId",
       "outputName", "operation", "iothub-interface-id", "dt-subject", "modelId", "enqueuedTime",
       "edgeMessageId", "edgeHubOriginInterface", "messageType", "version"]
ALL = {"system_properties": {n: "v-" + n for n in SYS}}
for n in SYS:
    case("true", "§3.5 system property names", f"${n} = 'v-{n}'", message=ALL)
    case("false", "§3.5 absent system property is undefined", f"is_defined(${n})")
    case("true", "§3.5 escaped system property", "{$" + n + "} = 'v-" + n + "'", message=ALL)

# ---- coalesce (§3.6) ---------------------------------------------------------------------------
for c, e in [("(key1 ?? 'hello') = 'value1'", "true"), ("(none ?? 'hello') = 'hello'", "true"),
             ("(none ?? none ?? 'x') = 'x'", "true"), ("(as_number(key1) ?? 1.5) = 1.5", "true"),
             ("(3 % 0 ?? 2) = 2", "true"), ("(none ?? none) = 'x'", "undefined"),
             ("undefined ?? undefined", "undefined"), ("is_null(null_value ?? 'x')", "true")]:
    case(e, "§3.6 ?? takes the first defined operand", c, message=STD)

# ---- $body (§3.8) ------------------------------------------------------------------------------
BODY = json.dumps({"temp": 55.5, "name": "pump", "on": True, "off": False, "nothing": None,
                   "arr": [10, {"x": "y"}], "nested": {"deep": {"v": -1}}})


def jmsg(body=BODY, ctype="application/json", enc="utf-8", props=None):
    sp = {}
    if ctype is not None:
        sp["contentType"] = ctype
    if enc is not None:
        sp["contentEncoding"] = enc
    m = {"body": body, "system_properties": sp}
    if props:
        m["properties"] = props
    return m


for c, e in [("$body.temp > 50", "true"), ("$body.temp < 50", "false"), ("$body.temp = 55.5", "true"),
             ("$body.name = 'pump'", "true"), ("$body.on = true", "true"), ("$body.on", "true"),
             ("$body.off", "false"), ("$body.arr[0] = 10", "true"), ("$body.arr[1].x = 'y'", "true"),
             ("$body.nested.deep.v < 0", "true"), ("$BODY.temp > 50", "true"),
             ("{$body.temp} > 50", "true"), ("is_null($body.nothing)", "true"),
             ("is_null($body.missing)", "true"), ("is_defined($body.missing)", "true"),
             ("$body.missing > 1", "undefined"), ("is_defined($body.nested)", "false"),
             ("is_defined($body.arr)", "false"), ("is_null($body.arr[7])", "true"),
             ("$body.name > 3", "undefined"), ("$body.temp = 'x'", "undefined"),
             ("$body.temp * 2 = 111", "true"), ("as_number($body.temp) = 55.5", "true"),
             ("upper($body.name) = 'PUMP'", "true"), ("$body.nothing = null", "true"),
             ("$body.temp > 50 AND $body.name = 'pump'", "true")]:
    case(e, "§3.8 $body query", c, message=jmsg())
for ctype, enc, e in [("application/json", "utf-8", "true"), ("APPLICATION/JSON", "UTF-8", "true"),
                      ("text/plain", "utf-8", "undefined"), (None, "utf-8", "undefined"),
                      ("application/json", None, "undefined"), ("application/json", "ascii", "undefined"),
                      ("application/json; charset=utf-8", "utf-8", "undefined")]:
    case(e, "§3.8 $body needs contentType application/json and a utf encoding", "$body.temp > 50",
         message=jmsg(ctype=ctype, enc=enc))
for body in ["[1, 2]", "not json", "", '{"temp": 55', "55"]:
    case("undefined", "§3.8 a body that is not a JSON object is unusable", "$body.temp > 50",
         message=jmsg(body=body))
case("true", "§3.8 app property named $body.x wins", "$body.temp = 'app'",
     message=jmsg(props={"$body.temp": "app"}))
case("true", "§3.8 escaped body query skips app properties", "{$body.temp} > 50",
     message=jmsg(props={"$body.temp": "app"}))
utf16 = BODY.encode("utf-16-le")
import base64
case("true", "§3.8 utf-16 body", "$body.temp > 50",
     message={"body_base64": base64.b64encode(utf16).decode(),
              "system_properties": {"contentType": "application/json", "contentEncoding": "utf-16"}})
case("true", "§3.8 utf-32 body", "$body.name = 'pump'",
     message={"body_base64": base64.b64encode(BODY.encode("utf-32-le")).decode(),
              "system_properties": {"contentType": "application/json", "contentEncoding": "utf-32"}})
for c in ["$body. = 1", "$body.a..b = 1", "$body.a[x] = 1"]:
    case("compile_error", "§3.8 bad $body path", c)

# ---- lexer and grammar (§3.2) ---------------------------------------------------------------------
for c, e in [("3 + 4 = 7", "true"), ("-1 < 0", "true"), ("0x10 = 16", "true"), ("1.5e3 = 1500", "true"),
             ("true AND /* a comment */ true", "true"), ("'it\\'s' = \"it's\"", "true"),
             ("'\\u0041' = 'A'", "true"), ("length('\\\\') = 1", "true"),
             ("TRUE = 'x'", "undefined"), ("is_defined(NULL)", "false"),
             ("not (none = 'true')", "undefined"), ("(((true)))", "true"),
             ("true and not false", "true"), ("1 < 2 = true", "true"),
             ("false or true and false", "false")]:
    case(e, "§3.2 grammar", c, message=STD)
for c in ["3 4", "(true", "true)", "a == 'b'", "a = 'b' && true", "a @ b", "= 1", "NOT",
          "a = 'unterminated", "foo(1)", "twin_change_includes(properties.reported.a)",
          "3 -4 = -1", "3+4 = 7", "undefined + 1", "e5 = 1"]:
    case("compile_error", "§3.2 syntax and static checks", c)
case("", "§3.6 empty condition is undefined", "")
cases[-1]["expected"] = "undefined"

# ---- routes: sources (§3.3) and sinks (§3.4) -------------------------------------------------------
leaf = {"system_properties": {"connectionDeviceId": "sensor"}}
mod = {"system_properties": {"connectionDeviceId": "edge", "connectionModuleId": "filter"}}
out = {"system_properties": {"connectionDeviceId": "edge", "connectionModuleId": "filter",
                             "outputName": "out1"}}
twin = {"source": "twinChangeNotifications"}
SOURCES = [("/*", 1, 1, 1, 1), ("/messages/*", 1, 1, 1, 0), ("/messages", 1, 1, 1, 0),
           ("/MESSAGES/*", 1, 1, 1, 0), ("/messages/modules/*", 0, 1, 1, 0),
           ("/messages/modules/filter/*", 0, 1, 1, 0), ("/messages/modules/Filter/*", 0, 1, 1, 0),
           ("/messages/modules/other/*", 0, 0, 0, 0), ("/messages/modules/filter/outputs/*", 0, 0, 1, 0),
           ("/messages/modules/filter/outputs/out1", 0, 0, 1, 0),
           ("/messages/modules/filter/outputs/out2", 0, 0, 0, 0),
           ("/twinChangeNotifications", 0, 0, 0, 1)]
for src, *hits in SOURCES:
    for m, hit in zip([leaf, mod, out, twin], hits):
        case("true iothub" if hit else "false", "§3.3 case-insensitive segment-prefix source match",
             route=f"FROM {src} INTO $upstream", message=m)
        case("true edge/alerts/in" if hit else "false", "§3.4 BrokeredEndpoint",
             route=f"FROM {src} INTO BrokeredEndpoint(\"/modules/alerts/inputs/in\")", message=m)
idiom = "FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO $upstream"
case("true iothub", "§3.3 leaf-devices-only idiom", route=idiom, message=leaf)
case("false", "§3.3 leaf-devices-only idiom", route=idiom, message=mod)
for r, m, e in [("SELECT * FROM /messages/* INTO $upstream", leaf, "true iothub"),
                ("select * from /messages/* where true into $UPSTREAM", leaf, "true iothub"),
                ("FROM /messages/* WHERE false INTO $upstream", leaf, "false"),
                ("FROM /messages/* WHERE missing = 'x' INTO $upstream", leaf, "false"),
                ("FROM /messages/* WHERE $body.temp > 50 INTO $upstream", jmsg(), "true iothub"),
                ("FROM /messages/* WHERE $body.temp > 60 INTO $upstream", jmsg(), "false"),
                ("FROM /messages/* INTO brokeredendpoint('/modules/m/inputs/i')", leaf, "true edge/m/i")]:
    case(e, "§3.2 route grammar", route=r, message=m)
for r in ["", "FROM /devices/* INTO $upstream", "FROM /messages/* INTO $downstream",
          "FROM /messages/* INTO BrokeredEndpoint(\"/modules/m/outputs/o\")",
          "FROM /messages/* INTO BrokeredEndpoint(\"/modules/m/inputs\")",
          "FROM /messages/* WHERE INTO $upstream", "FROM /messages/* WHERE temp > 30 INTO $upstream",
          "/messages/* INTO $upstream", "FROM /messages/* INTO $upstream extra",
          "FROM /messages/* WHERE twin_change_includes(properties.reported.a) INTO $upstream"]:
    case("compile_error", "§3.2-3.4 bad routes", route=r, message=leaf)
TW = {"source": "twinChangeNotifications", "body": json.dumps({"properties": {"reported": {"a": 1, "n": None}}}),
      "system_properties": {"contentType": "application/json", "contentEncoding": "utf-8"}}
for cond, e in [("twin_change_includes(properties.reported.a)", "true iothub"),
                ("twin_change_includes(properties.reported.n)", "false"),
                ("twin_change_includes(properties.reported.zz)", "false")]:
    case(e, "§3.7 twin_change_includes", route=f"FROM /twinChangeNotifications WHERE {cond} INTO $upstream",
         message=TW)
case("false", "§3.8 twin notifications carry no contentType: undefined",
     route="FROM /twinChangeNotifications WHERE twin_change_includes(properties.reported.a) INTO $upstream",
     message={"source": "twinChangeNotifications", "body": TW["body"]})

for c in cases:
    sys.stdout.write(json.dumps(c, ensure_ascii=False) + "\n")
sys.stderr.write(f"{len(cases)} cases\n")
