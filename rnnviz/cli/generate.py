"""`rnnviz generate MODEL --prompt TEXT`: continue a prompt by sampling (rnnviz.api.Model.generate)."""

from __future__ import annotations

from rnnviz.cli.common import known_tokens, load_model


def add_parser(sub) -> None:
    g = sub.add_parser("generate", help="continue a prompt by sampling from a model")
    g.add_argument("model")
    g.add_argument("--prompt", required=True)
    g.add_argument("--length", type=int, default=200)
    g.add_argument("--temperature", type=float, default=1.0, help="0: always the most likely token")
    g.add_argument("--seed", type=int)
    g.add_argument("--unknown", choices=("error", "unk"), default="error")
    g.set_defaults(func=run)


def run(a) -> int:
    m = load_model(a.model)
    known_tokens(m, a.prompt, a.unknown, "--prompt")  # a bad prompt in the command's own words
    print(m.generate(a.prompt, a.length, a.temperature, a.seed, unknown=a.unknown))
    return 0
