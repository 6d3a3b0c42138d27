#!/usr/bin/env python3
"""Writes reference renders made with Python's Jinja2, set up as transformers'
apply_chat_template sets it up, for the Go tests of tokenizer/chat.

    python3 gen_jinja2_fixtures.py [QWEN3_DIR]

Outputs (beside this script):
  jinja2_whitespace.json  random templates mixing text, tags and whitespace
                          control, each with Jinja2's output;
  jinja2_exprs.json       expressions, filters, tests and methods that chat
                          templates use, with Jinja2's output or "error";
  jinja2_templates.json   whole templates of templates_for_fixtures.py
                          (written for these tests in the styles of common
                          model families) with conversations and outputs;
  jinja2_qwen3.json       conversations rendered with the Qwen3 template read
                          from QWEN3_DIR/tokenizer_config.json (default
                          ../../../../shared/models/qwen3-tokenizer); only the
                          conversations and outputs are written, not the
                          template.

Tested with Jinja2 3.1.6.
"""
import json
import os
import random
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))


def environment():
    # The settings transformers uses for chat templates.
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


# Pieces of random templates.
TEXTS = ["a", "b", " ", "  ", "\t", "\n", "\n\n", " \n", "\n  ", "x y", "\n\t"]
EXPRS = ["{{ 'E' }}", "{{- 'E' }}", "{{ 'E' -}}", "{{- 'E' -}}", "{{+ 'E' }}"]
COMMENTS = ["{# c #}", "{#- c #}", "{# c -#}", "{#- c -#}", "{#+ c #}", "{# c +#}"]
SETS = ["{% set v = 1 %}", "{%- set v = 1 %}", "{% set v = 1 -%}", "{%+ set v = 1 %}", "{% set v = 1 +%}"]
RAWS = ["{% raw %}{{ r }} {% x %}{% endraw %}", "{%- raw -%}\n r \n{%- endraw %}", "{% raw -%}\n\n  x\n  {% endraw %}",
        "{% raw %}\n y {%+ endraw +%}", "{%+ raw %}  {% endraw -%}"]
OPENS = ["{% if true %}", "{%- if true %}", "{% if true -%}", "{%- if true -%}", "{%+ if true %}", "{% if true +%}",
         "{% for i in range(2) %}", "{%- for i in range(2) -%}"]


def close_for(open_tag):
    word = "endfor" if " for " in open_tag else "endif"
    return random.choice(["{% W %}", "{%- W %}", "{% W -%}", "{%- W -%}", "{%+ W %}", "{% W +%}"]).replace("W", word)


def sequence(depth):
    out = []
    for _ in range(random.randint(1, 6)):
        r = random.random()
        if r < 0.45:
            out.append(random.choice(TEXTS))
        elif r < 0.6:
            out.append(random.choice(EXPRS))
        elif r < 0.7:
            out.append(random.choice(COMMENTS))
        elif r < 0.75:
            out.append(random.choice(SETS))
        elif r < 0.8:
            out.append(random.choice(RAWS))
        elif depth < 2:
            o = random.choice(OPENS)
            out.append(o + sequence(depth + 1) + close_for(o))
        else:
            out.append(random.choice(TEXTS))
    return "".join(out)


def whitespace_fixtures(env):
    random.seed(20240705)
    cases = []
    seen = set()
    while len(cases) < 400:
        src = sequence(0)
        if src in seen:
            continue
        seen.add(src)
        cases.append({"src": src, "want": env.from_string(src).render()})
    return cases


# Variables for the expression fixtures (also read by the Go test).
EXPR_VARS = {
    "messages": [
        {"role": "system", "content": "  Be brief.\n"},
        {"role": "user", "content": "a,b,,c"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"z": 1, "a": [1.5, 2.0, None, True, "é<&>"]}}}]},
        {"role": "tool", "content": "ok", "name": "f"},
    ],
    "tools": [{"type": "function", "function": {"name": "f", "description": "Does f.", "parameters": {"type": "object", "properties": {"z": {"type": "integer"}, "a": {"type": "array"}}}}}],
    "d": {"b": 2, "a": 1, "c": None},
    "add_generation_prompt": True,
}

EXPR_CASES = [
    "{{ messages|length }}", "{{ messages[0]['role'] }}{{ messages[0].role }}", "{{ messages[-1].name }}",
    "{{ (messages|selectattr('role', 'equalto', 'user')|list)|length }}",
    "{{ messages|selectattr('role', 'eq', 'tool')|list|length }}",
    "{{ messages|rejectattr('role', 'equalto', 'system')|list|length }}",
    "{{ messages|selectattr('role', 'in', ['user', 'tool'])|list|length }}",
    "{{ messages|map(attribute='role')|join(',') }}", "{{ messages[1:]|map(attribute='role')|list }}",
    "{{ 'x' if messages[0]['role'] == 'system' else 'y' }}", "{{ messages[0]['content']|trim }}",
    "{{ '  a b  '.split() }}", "{{ 'a,b,,c'.split(',') }}", "{{ 'a b c'.split(' ', 1) }}", "{{ 'a-b'.split('-')|join('+') }}",
    "{{ 'Hello'.upper() }}{{ 'Hello'.lower() }}{{ 'hello world'.title() }}{{ 'hello'.capitalize() }}",
    "{{ 'hello world'|title }}{{ 'hello'|capitalize }}{{ 'ab'|upper }}",
    "{{ 'abc'.replace('b', 'X') }}{{ 'abcabc'.find('c') }}{{ 'abcabc'.count('a') }}",
    "{{ messages[0].content.strip() }}|{{ messages[0].content.strip('\n ') }}|{{ '\n\nx\n'.lstrip('\n') }}|{{ 'x\n\n'.rstrip() }}",
    "{{ 'abc'.startswith('a') }}{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith(('z', 'a')) }}",
    "{{ tools|tojson }}", "{{ tools[0]|tojson(indent=4) }}", "{{ messages[2].tool_calls[0].function.arguments|tojson }}",
    "{{ d|tojson }}", "{{ d|tojson(indent=2) }}", "{{ 'é\"q<'|tojson }}{{ \"a\\\\b\"|tojson }}", "{{ {'a': 1.5, 'b': [1, 2.0]}|tojson }}",
    "{{ none|tojson }}{{ true|tojson }}{{ 3|tojson }}",
    "{{ 1.0 }}|{{ 3/2 }}|{{ 7//2 }}|{{ 7 % 3 }}|{{ 1 + 2 * 3 }}|{{ 0.1 + 0.2 }}|{{ 1.5e16 / 1 }}|{{ 0.00001 * 1 }}|{{ 4/2 }}", "{{ 2**3 }}", "{{ -7//2 }}", "{{ 1e3 }}",
    "{{ none }}|{{ true }}|{{ false }}", "{{ [1, 'a', none, true] }}", "{{ {'a': 1, 'b': 'x'} }}", "{{ d }}",
    "{{ 'a' ~ 1 ~ none ~ true }}", "{{ 'a' + 'b' }}",
    "{% for i in range(3) %}{{ loop.index }}{{ loop.revindex }}{{ loop.length }}{{ loop.revindex0 }}{% endfor %}",
    "{% for m in messages %}{% if loop.previtem is defined %}{{ loop.previtem.role }}>{% endif %}{% endfor %}",
    "{{ range(3)|list }}{{ range(1, 7, 2)|list }}",
    "{{ messages[0].content is string }}{{ d is mapping }}{{ messages is sequence }}{{ 'a' is iterable }}{{ 3 is number }}{{ none is none }}",
    "{{ 'a' in 'abc' }}{{ 'b' in d }}{{ 1 not in [1, 2] }}{{ 'z' not in d }}",
    "{{ messages[-1]['role'] == 'assistant' and not add_generation_prompt }}",
    "{{ x|default('d') }}{{ ''|default('d') }}{{ ''|default('d', true) }}{{ none|default('d') }}",
    "{{ d|dictsort }}", "{{ [3, 1, 2]|sort }}{{ [1, 2]|reverse|list }}{{ [1, 2, 3]|first }}{{ [1, 2, 3]|last }}",
    "{{ 'abc'[1:] }}{{ 'abc'[::-1] }}{{ 'abc'[-1] }}{{ [1, 2, 3][:2] }}",
    "{% set x = [1] + [2] %}{{ x }}", "{{ messages[0].get('name', 'none') }}{{ d.get('b') }}{{ d.get('q') }}",
    "{{ messages[2].tool_calls is defined }}{{ messages[0].tool_calls is defined }}{{ messages[0].tool_calls is undefined }}",
    "{{ (messages|length) // 2 }}", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", "{{ d.keys()|list }}{{ d.values()|list }}",
    "{{ 'A\nB'|indent(2) }}|{{ 'A\nB'|indent(2, true) }}", "{{ 5|string }}{{ '5'|int + 1 }}{{ 3|float }}{{ '2.5'|float }}",
    "{% for m in messages %}{% if loop.index > 2 %}{% break %}{% endif %}{{ m.role }}{% endfor %}",
    "{% for m in messages %}{% if m.role == 'user' %}{% continue %}{% endif %}{{ m.role[0] }}{% endfor %}",
    "{{ dict(a=1)|tojson }}{{ namespace(a=1).a }}", "{% set ns = namespace(items=[]) %}{% set ns.items = ns.items + [1] %}{{ ns.items }}",
    "{{ [1, 2, 3]|sum }}{{ [1, 5, 3]|max }}{{ [4, 2]|min }}{{ 2.567|round(1) }}{{ [1, 1, 2]|unique|list }}", "{{ -3|abs }}",
    "{{ 'a b c'|wordcount }}{{ 'x'|list }}{{ d|length }}{{ 'abc'|length }}",
    "{{ messages[0].content|replace('Be', 'Stay') }}", "{{ '<b>'|e }}{{ '<b>'|safe }}",
    "{% macro m(a, b='B') %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(2, b=3) }}",
    "{% if messages %}T{% endif %}{% if [] %}F{% else %}E{% endif %}{% if d.q %}F{% endif %}{% if not none %}N{% endif %}",
    "{{ messages[9] is defined }}", "{{ messages[0].content.split('\n')[0] }}",
    "{{ raise_exception('boom') }}", "{{ undefined_thing.attr }}", "{{ 1 + 'a' }}",
    "{{ '%s-%s'|format('a', 1) }}", "{{ 'a' * 3 }}", "{{ 10 > 3 > 1 }}",
    "{{ ['a', 'b']|join }}{{ [1, 2]|join('') }}", "{{ messages|batch(3)|list|length }}",
    "{{ (1, 2) }}", "{{ 'x' is in ['x'] }}", "{{ 'it\\'s' }}|{{ ['it\\'s', 'a\\nb', \"q\\\"\"] }}",
    "{{ tools|tojson(separators=(',', ':')) }}", "{{ d|tojson(sort_keys=true) }}", "{{ 'é😀'|tojson(ensure_ascii=true) }}", "{{ [[], {}]|tojson(indent=2) }}",
    "{{ messages[2].tool_calls[0].function.arguments.a[0] }}{{ messages[2].tool_calls[0].function.arguments.a }}", "{{ true and 'v' or 'w' }}", "{{ 0 or '' or 'last' }}",
]


def expr_fixtures(env):
    cases = []
    for src in EXPR_CASES:
        try:
            want = env.from_string(src).render(**EXPR_VARS)
            cases.append({"src": src, "want": want})
        except Exception as e:  # the engine must fail too
            cases.append({"src": src, "error": type(e).__name__ + ": " + str(e)})
    return cases


def template_fixtures(env):
    import templates_for_fixtures as tf
    weather = {"type": "function", "function": {"name": "get_weather", "description": "Get the weather.",
                                                "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
                                                               "required": ["city"]}}}
    chat = [{"role": "system", "content": "  Be kind.  "}, {"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Hello!\n"},
            {"role": "user", "content": "Bye"}]
    calls = [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "Weather in Paris?"},
             {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}}]},
             {"role": "tool", "content": "{\"temp\": 20.0}"}]
    specs = [
        ("inst", tf.INST, {"bos_token": "<s>", "eos_token": "</s>"}, [
            (chat, {}), (chat[1:3], {}), (chat[:1] + chat[2:], {}), (chat[1:], {"add_generation_prompt": True})]),
        ("turns", tf.TURNS, {"bos_token": "<bos>", "eos_token": "<eos>"}, [
            (chat[1:], {}), (chat[1:], {"add_generation_prompt": True}), ([], {"add_generation_prompt": True})]),
        ("tools", tf.TOOLS, {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}, [
            (chat, {"date_string": "05 Jul 2024"}), (calls, {"date_string": "05 Jul 2024", "tools": [weather], "add_generation_prompt": True}),
            (calls[1:], {"date_string": "05 Jul 2024", "tools": [weather, {"type": "function", "function": {"name": "noop", "parameters": {}}}]})]),
    ]
    out = []
    for name, src, special, convs in specs:
        tmpl = env.from_string(src)
        cases = []
        for msgs, opts in convs:
            kwargs = {"add_generation_prompt": False, "tools": None, "documents": None}
            kwargs.update(opts)
            try:
                cases.append({"messages": msgs, "options": opts, "want": tmpl.render(messages=msgs, **special, **kwargs)})
            except jinja2.exceptions.TemplateError as e:
                cases.append({"messages": msgs, "options": opts, "error": str(e)})
        out.append({"name": name, "template": src, "special": special, "cases": cases})
    return out


def qwen3_fixtures(env, qwen3_dir):
    with open(os.path.join(qwen3_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    tmpl = env.from_string(cfg["chat_template"])
    tool = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                             "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "Nom de la ville, é"}},
                                                            "required": ["city"]}}}
    think1 = "<think>\nFirst, add.\n</think>\n\n2+2 = 4."
    convs = [
        ("system+user", [{"role": "system", "content": "You are Qwen."}, {"role": "user", "content": "Hello"}], {"add_generation_prompt": True}),
        ("multi-turn", [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": think1},
                        {"role": "user", "content": "3+3?"}, {"role": "assistant", "content": "<think>\nagain\n</think>\n\n6"}], {}),
        ("no thinking", [{"role": "user", "content": "Hi"}], {"add_generation_prompt": True, "enable_thinking": False}),
        ("thinking on", [{"role": "user", "content": "Hi"}], {"add_generation_prompt": True, "enable_thinking": True}),
        ("reasoning field", [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!", "reasoning_content": "greet"}], {}),
        ("tools", [{"role": "system", "content": "Sys"}, {"role": "user", "content": "Weather in Paris?"},
                   {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
                   {"role": "tool", "content": "{\"temp\": 20}"}, {"role": "tool", "content": "second"},
                   {"role": "assistant", "content": "It is 20."}], {"tools": [tool]}),
        ("tool call with text", [{"role": "user", "content": "Go"},
                                 {"role": "assistant", "content": "Calling.", "tool_calls": [
                                     {"type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}},
                                     {"type": "function", "function": {"name": "g", "arguments": {"y": [1, 2]}}}]},
                                 {"role": "tool", "content": "ok"}], {"add_generation_prompt": True}),
        ("tool response as user", [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>r</think>a"},
                                   {"role": "user", "content": "<tool_response>\nx\n</tool_response>"}], {"add_generation_prompt": True}),
        ("unicode", [{"role": "user", "content": "中文 ✓ \"quotes\" \\ {{ x }}"}], {"add_generation_prompt": True}),
    ]
    out = []
    for name, msgs, opts in convs:
        kwargs = dict(opts)
        kwargs.setdefault("add_generation_prompt", False)
        kwargs.setdefault("tools", None)
        kwargs.setdefault("documents", None)
        special = {k: v for k, v in cfg.items() if k in ("bos_token", "eos_token", "unk_token", "pad_token") and isinstance(v, str)}
        out.append({"name": name, "messages": msgs, "options": opts, "want": tmpl.render(messages=msgs, **special, **kwargs)})
    return out


def main():
    env = environment()
    with open(os.path.join(HERE, "jinja2_whitespace.json"), "w", encoding="utf-8") as f:
        json.dump({"jinja2": jinja2.__version__, "cases": whitespace_fixtures(env)}, f, ensure_ascii=False, indent=0)
        f.write("\n")
    with open(os.path.join(HERE, "jinja2_exprs.json"), "w", encoding="utf-8") as f:
        json.dump({"jinja2": jinja2.__version__, "vars": EXPR_VARS, "cases": expr_fixtures(env)}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    sys.path.insert(0, HERE)
    with open(os.path.join(HERE, "jinja2_templates.json"), "w", encoding="utf-8") as f:
        json.dump({"jinja2": jinja2.__version__, "templates": template_fixtures(env)}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    qwen3_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "..", "shared", "models", "qwen3-tokenizer")
    with open(os.path.join(HERE, "jinja2_qwen3.json"), "w", encoding="utf-8") as f:
        json.dump({"jinja2": jinja2.__version__, "cases": qwen3_fixtures(env, qwen3_dir)}, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
