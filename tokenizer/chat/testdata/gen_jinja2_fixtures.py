#!/usr/bin/env python3
"""Writes reference renders made with Python's Jinja2, set up as transformers'
apply_chat_template sets it up, for the Go tests of tokenizer/chat.

    python3 gen_jinja2_fixtures.py [QWEN3_DIR]

Outputs (beside this script):
  jinja2_whitespace.json  random templates mixing text, tags and whitespace
                          control, each with Jinja2's output;
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
        elif r < 0.8:
            out.append(random.choice(SETS))
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
    qwen3_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "..", "shared", "models", "qwen3-tokenizer")
    with open(os.path.join(HERE, "jinja2_qwen3.json"), "w", encoding="utf-8") as f:
        json.dump({"jinja2": jinja2.__version__, "cases": qwen3_fixtures(env, qwen3_dir)}, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
