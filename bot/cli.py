"""The `bot` command: options in, output out; the bot itself is built by `bot.app.Bot` (the composition root)."""

from __future__ import annotations

import json
import os
import random
import sys
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from bot.config import PromptMode
from bot.config.settings import BotSettings, load_settings
from bot.errors import BotError, ConfigError

app = typer.Typer(help="One frozen LLM, one small learned table per skill.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
console = Console(stderr=True)
CONFIG = Path("configs/default.yaml")

ModelOption = Annotated[Optional[str], typer.Option("--model", help="'default', a HF id or a local folder")]
DeviceOption = Annotated[Optional[str], typer.Option("--device", help="cpu or cuda")]
ConfigOption = Annotated[Optional[Path], typer.Option(
    "--config", help="settings file (default: configs/default.yaml when there is one here)")]


def _settings(model: str | None = None, device: str | None = None, config: Path | None = None) -> BotSettings:
    """--config (which must exist), else configs/default.yaml if the working folder has one; then the
    environment and these options over it (bot/config/settings.py gives the precedence)."""
    path = config if config is not None else (CONFIG if CONFIG.is_file() else None)
    return load_settings(path, model=model or None, device=device or None)


def _base(settings: BotSettings):
    from bot.app import load_model

    with console.status(f"loading model '{settings.model}'"):
        return load_model(settings)


def _bot(settings: BotSettings, **parts):
    """The bot of these settings, built by the one composition root (`bot.app.Bot`)."""
    from bot.app import Bot, load_skills

    load_skills(settings.skills_dir)  # a missing folder or a bad skill is said before the model loads
    return Bot.from_settings(settings, base=_base(settings), **parts)


def main() -> None:
    """Entry point: user errors print as one clear message, not a traceback."""
    _quiet_libraries()
    try:
        app()
    except BotError as err:
        console.print(f"[red]error:[/red] {err}", markup=True, highlight=False)
        sys.exit(2)


def _quiet_libraries() -> None:
    """No 'Loading weights' bars or library deprecation warnings on stderr: a user can act on neither
    (set before transformers is imported, which reads the switch then)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft)\.")


@app.command()
def model(model: ModelOption = None, device: DeviceOption = None, config: ConfigOption = None) -> None:
    """Print the resolved base model, its parameter count, the type it runs in and its fingerprint."""
    from bot.model.base import resolve_model

    settings = _settings(model, device, config)
    base = _base(settings)
    print(json.dumps({"model": base.name, "path": str(resolve_model(settings.model)[1]),
                      "parameters": base.parameter_count, "dtype": str(base.model.dtype).removeprefix("torch."),
                      "fingerprint": base.fingerprint}, indent=2))


@app.command()
def new(name: str, data: Annotated[Optional[Path], typer.Option(help="examples in any supported format")] = None,
        split: Annotated[Optional[str], typer.Option(help="split of --data, e.g. train")] = None,
        directory: Annotated[Path, typer.Option("--dir", help="where skills live")] = Path("skills"),
        description: str = "",
        only: Annotated[Optional[str], typer.Option(
            help="keep only intents matching these globs, e.g. 'alarm_*' or 'alarm_*,weather_*'")] = None,
        attribution: Annotated[Optional[str], typer.Option(
            help="credit for the data (e.g. its CC BY notice), written atop skill.yaml")] = None) -> None:
    """Scaffold skills/NAME: skill.yaml and examples.jsonl (from --data when given)."""
    from bot.skills.scaffold import scaffold_skill

    root = scaffold_skill(directory / name, name=name, data=data, split=split, description=description,
                          only=only, attribution=attribution)
    console.print(f"created {root}; edit skill.yaml, then run: bot tune {root}")


@app.command()
def tune(skill: Annotated[Optional[Path], typer.Argument(help="the skill folder")] = None,
         router: Annotated[bool, typer.Option("--router", help="rebuild and tune the router table")] = False,
         model: ModelOption = None, device: DeviceOption = None, config: ConfigOption = None,
         steps: Annotated[Optional[int], typer.Option(help="override tuning.steps")] = None,
         minutes: Annotated[Optional[float], typer.Option(help="override tuning.max_minutes")] = None) -> None:
    """P-tune a skill's virtual-token table on its examples (or the router's); saves table/ + manifest."""
    from bot.model.base import resolve_model
    from bot.skills.skill import load_skill
    from bot.tuning.tune import tune_table

    if (skill is None) == (not router):
        raise typer.BadParameter("give a skill folder, or --router (not both)")
    opened = _router_skill(_settings(model, device, config)) if router else load_skill(skill)
    examples = opened.examples()
    settings = opened.config.tuning.model_copy(
        update={k: v for k, v in {"steps": steps, "max_minutes": minutes}.items() if v is not None})
    bot_settings = _settings(model, device, config)
    base = _base(bot_settings)
    result = tune_table(base, opened.config, examples, model_dir=str(resolve_model(bot_settings.model)[1]),
                        out_dir=opened.table_dir, settings=settings)
    size = sum(p.stat().st_size for p in opened.table_dir.iterdir())
    print(json.dumps({"skill": opened.name, "table": str(opened.table_dir), "table_bytes": size,
                      "warm_examples": result.warm_examples, "steps": result.steps,
                      "seconds": round(result.seconds, 1), "dev": result.dev.model_dump(exclude_none=True),
                      "dev_history": result.dev_history}, indent=2))
    if result.dev.warning:
        console.print(f"[yellow]warning:[/yellow] {result.dev.warning}")


def _router_skill(settings: BotSettings):
    """Rebuild skills/_router from every skill's examples and the out-of-scope texts."""
    from bot.app import load_skills
    from bot.skills.examples import load_examples
    from bot.skills.router import build_router

    oos = settings.out_of_scope_examples
    texts = [e.text for e in load_examples(oos)] if oos else []
    return build_router(list(load_skills(settings.skills_dir)[0].values()), texts, settings.skills_dir)


@app.command()
def skills(model: ModelOption = None, config: ConfigOption = None) -> None:
    """List the skills and the router with intents, mode and dev figures from their last tuning."""
    from rich.table import Table as RichTable

    from bot.app import load_skills
    from bot.skills.manifest import stale_warning
    from bot.skills.router import ROUTER_DIR
    from bot.skills.skill import load_skill

    settings = _settings(model, config=config)
    table = RichTable("skill", "mode", "intents", "examples", "dev n", "dev intent acc", "dev slot F1",
                      "dev frame acc (90% interval)")
    found = list(load_skills(settings.skills_dir)[0].values())  # a missing folder is a clear error
    router_dir = settings.skills_dir / ROUTER_DIR
    warnings = []
    for skill in found + ([load_skill(router_dir)] if router_dir.is_dir() else []):
        try:
            dev = _dev_of(skill)
        except ConfigError as err:  # a stale or damaged table: still list the skill, and say what to do
            dev = None
            warnings.append(f"{skill.name}: {err}")
        table.add_row(*_skill_row(skill, dev))
        if dev is not None and dev.warning:
            warnings.append(f"{skill.name}: {dev.warning}")
        if dev is not None and (stale := stale_warning(skill.table_dir, skill.examples())):
            warnings.append(f"{skill.name}: {stale}")
    Console().print(table)
    for warning in warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


def _dev_of(skill):
    from bot.skills.manifest import MANIFEST, read_manifest

    return read_manifest(skill.table_dir).dev if (skill.table_dir / MANIFEST).is_file() else None


def _skill_row(skill, dev) -> list[str]:
    pct = lambda value: f"{value:.1%}" if isinstance(value, float) else "-"
    count = sum(1 for line in skill.examples_path.open() if line.strip()) if skill.examples_path.is_file() else 0
    frame = pct(dev.frame_accuracy) if dev else "-"
    if dev and dev.frame_low is not None:
        frame += f" ({dev.frame_low:.0%}-{dev.frame_high:.0%})"
    return [skill.name, skill.config.mode.value, str(len(skill.config.intents)), str(count),
            str(dev.n) if dev else "-", pct(dev.intent_accuracy) if dev else "-",
            pct(dev.slot_f1) if dev else "-", frame]


@app.command()
def chat(debug: Annotated[bool, typer.Option(help="show skill, intent, slots and timing per turn")] = False,
         conversation: Annotated[str, typer.Option(help="conversation id")] = "shell",
         model: ModelOption = None, device: DeviceOption = None, config: ConfigOption = None) -> None:
    """Talk to the bot in the terminal, with every skill under skills/."""
    from bot.adapters.shell import run_shell

    bot = _bot(_settings(model, device, config))
    run_shell(bot.manager, conversation_id=conversation, debug=debug)


@app.command()
def serve(host: Annotated[Optional[str], typer.Option(help="address to listen on (config: server.host)")] = None,
          port: Annotated[Optional[int], typer.Option(help="port (config: server.port)")] = None,
          slack_socket_mode: Annotated[bool, typer.Option(
              "--slack-socket-mode", help="also connect to Slack over Socket Mode (needs SLACK_APP_TOKEN)")] = False,
          allow_unauthenticated: Annotated[bool, typer.Option(
              "--allow-unauthenticated", help="serve beyond loopback with no API keys (BOT_API_KEYS)")] = False,
          model: ModelOption = None, device: DeviceOption = None, config: ConfigOption = None) -> None:
    """Serve the HTTP API, the web chat at / and Slack (when SLACK_* variables are set)."""
    import logging

    from bot.adapters.server import serve as run_server

    settings = _settings(model, device, config)
    server = settings.server.model_copy(update={k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    if allow_unauthenticated:
        server = server.model_copy(update={"allow_unauthenticated": True})
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    run_server(lambda: _bot(settings), server, socket_mode=slack_socket_mode, secrets=settings.slack_secrets)


@app.command()
def predict(skill: Path, text: str, mode: Annotated[Optional[PromptMode], typer.Option()] = None,
            model: ModelOption = None, device: DeviceOption = None, config: ConfigOption = None) -> None:
    """Read one message with a skill and print the frame as JSON."""
    from bot.model.readers import reader_for
    from bot.model.runtime import Runtime
    from bot.skills.skill import load_skill

    opened = load_skill(skill)
    runtime = Runtime(_base(_settings(model, device, config)))
    reading = reader_for(runtime, opened, mode).read([text])[0]
    print(reading.frame.model_dump_json(indent=2, exclude_none=True))


def _held_out(skill):
    """The same seeded dev split that `bot tune` kept out of training."""
    from bot.tuning.tune import split_dev

    from bot.errors import DataError

    tuning = skill.config.tuning
    held_out = split_dev(skill.examples(), tuning.dev_fraction or 0.1, tuning.seed)[1]
    if not held_out:
        raise DataError(skill.examples_path, "too few examples to hold out a dev split",
                        fix="add examples, or pass --data with labelled turns")
    return held_out


@app.command("eval")
def evaluate(skill: Annotated[Optional[Path], typer.Argument(help="the skill folder")] = None,
             data: Annotated[Optional[Path], typer.Option(
                 help="labelled turns; default: the dev split `bot tune` held out")] = None,
             split: Annotated[Optional[str], typer.Option(help="split of --data, e.g. dev or val")] = None,
             mode: Annotated[str, typer.Option(help="a prompting mode, or 'all' for the ladder")] = "tuned",
             limit: Annotated[Optional[int], typer.Option(help="evaluate a seeded sample of N turns")] = None,
             report: Annotated[Optional[Path], typer.Option(help="write JSON + Markdown + PNG here")] = None,
             out_of_scope: Annotated[Optional[str], typer.Option(
                 help="the intent that marks out-of-scope turns (e.g. oos): adds a confidence sweep")] = None,
             dialogues: Annotated[Optional[Path], typer.Option(
                 help="scripted conversations (YAML) played through the dialogue manager, instead of a skill")] = None,
             model: ModelOption = None, device: DeviceOption = None, config: ConfigOption = None) -> None:
    """Intent accuracy, slot P/R/F1, frame accuracy, per-intent table, confusion, latency."""
    if (skill is None) == (dialogues is None):
        raise typer.BadParameter("give a skill folder, or --dialogues FILE (not both)")
    if dialogues is not None:
        return _eval_dialogues(dialogues, report, _settings(model, device, config))
    from rich.progress import Progress

    from bot.model.runtime import Runtime
    from bot.skills.importers import read_dataset
    from bot.skills.skill import load_skill
    from bot.tuning.evaluate import evaluate as evaluate_mode
    from bot.tuning.report import summary_table, write_report

    opened = load_skill(skill)
    examples = read_dataset(data, split=split) if data else _held_out(opened)
    if limit is not None and limit < len(examples):
        examples = random.Random(0).sample(examples, limit)
    modes = list(PromptMode) if mode == "all" else [PromptMode(mode)]
    runtime = Runtime(_base(_settings(model, device, config)))
    results, frames = {}, {}
    with Progress(console=console) as progress:
        for each in modes:
            task = progress.add_task(f"eval {each.value}", total=len(examples))
            frames[each.value] = []
            results[each.value] = evaluate_mode(runtime, opened, examples, each, frames_out=frames[each.value],
                                                on_batch=lambda n, t=task: progress.advance(t, n))
    Console().print(summary_table(results, title=f"{opened.name} on {data or opened.examples_path}"))
    if report:
        for path in write_report(report, results, title=f"{opened.name}: {data or 'skill examples'}"):
            console.print(f"wrote {path}")
    if out_of_scope:
        _out_of_scope_report(examples, frames, out_of_scope, report)


def _eval_dialogues(path: Path, report: Path | None, settings: BotSettings) -> None:
    """Play scripted conversations through the real manager on a fresh in-memory store."""
    from bot.dialogue.script_report import markdown_table, write_dialogue_report
    from bot.dialogue.script_run import play_set, score
    from bot.dialogue.scripts import load_dialogues
    from bot.store import MemoryStore

    dialogue_set = load_dialogues(path)
    manager = _bot(settings, store=MemoryStore()).manager
    results = play_set(manager, dialogue_set, on_dialogue=lambda r: console.print(
        f"{'ok  ' if r.passed else 'FAIL'} {r.dialogue.category}: {r.dialogue.name}", highlight=False))
    scores = score(results)
    print(f"dialogues: {path}\n{markdown_table(scores)}")  # plain text: never cut to the terminal's width
    print(f"whole-conversation accuracy: {scores['all'].dialogue_accuracy:.1%} "
          f"({scores['all'].dialogues_passed}/{scores['all'].dialogues})")
    for written in write_dialogue_report(report, scores, results, title=f"dialogues: {path}") if report else []:
        console.print(f"wrote {written}")


def _out_of_scope_report(examples, frames: dict, oos_intent: str, report: Path | None) -> None:
    from bot.tuning.out_of_scope import out_of_scope_sweep, sweep_table

    for mode, read in frames.items():
        table = sweep_table(out_of_scope_sweep(examples, read, oos_intent))
        print(f"\nOut of scope ('{oos_intent}' or confidence below the threshold), {mode}:\n{table}")
        if report:
            (report / f"out_of_scope_{mode}.md").write_text(table, encoding="utf-8")


bench_app = typer.Typer(help="Benchmarks: measure the bot on this machine.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("compare")
def bench_compare(
        data: Annotated[Path, typer.Option(help="training examples in any supported format")],
        eval_data: Annotated[Optional[Path], typer.Option(
            help="evaluation examples; default: a seeded dev split held out of --data")] = None,
        split: Annotated[Optional[str], typer.Option(help="split of --data, e.g. train")] = None,
        eval_split: Annotated[Optional[str], typer.Option(help="split of --eval-data, e.g. dev or val")] = None,
        dev_fraction: Annotated[Optional[float], typer.Option(
            help="share of --data held out for evaluation when --eval-data is absent (default 0.1)")] = None,
        seed: Annotated[Optional[int], typer.Option(help="seed of the held-out split and samples (default 0)")] = None,
        report: Annotated[Optional[Path], typer.Option(help="write compare.md/.json/.png and details/ here")] = None,
        max_train: Annotated[Optional[int], typer.Option(help="seeded sample of N training examples")] = None,
        max_eval: Annotated[Optional[int], typer.Option(help="seeded sample of N evaluation examples")] = None,
        prompted_eval: Annotated[Optional[int], typer.Option(
            help="seeded sample for the slow zero-/few-shot modes (default 100)")] = None,
        max_steps: Annotated[Optional[int], typer.Option(
            help="LLM tuning steps; also caps the BERT steps per model")] = None,
        minutes: Annotated[Optional[float], typer.Option(help="LLM tuning time cap")] = None,
        quick: Annotated[bool, typer.Option(help="small slices and few steps: a smoke test of minutes")] = False,
        systems: Annotated[Optional[str], typer.Option(
            help="comma-separated: bert, zero_shot, few_shot, chain_of_thought, tuned")] = None,
        encoder: Annotated[Optional[Path], typer.Option(
            help="BERT encoder folder (default: the embedded all-MiniLM-L6-v2)")] = None,
        threads: Annotated[Optional[int], typer.Option(help="torch threads per system")] = None,
        model: ModelOption = None, config: ConfigOption = None) -> None:
    """Train and evaluate the BERT ensemble and the LLM skill on the same splits; print the table."""
    from bot.bench import BenchSettings, compare, comparison_table, write_bench_report

    settings = BenchSettings.from_options(
        quick=quick, systems=systems, data=data, eval_data=eval_data, split=split, eval_split=eval_split,
        dev_fraction=dev_fraction, seed=seed, max_train=max_train, max_eval=max_eval, prompted_eval=prompted_eval,
        max_steps=max_steps, minutes=minutes, encoder=encoder, threads=threads,
        model=_settings(model, config=config).model)
    result = compare(settings, on_system=lambda s: console.print(f"[bold]{s.value}[/bold] (own process)"))
    Console().print(comparison_table(result))
    for path in write_bench_report(report, result) if report else []:
        console.print(f"wrote {path}")


@bench_app.command("load")
def bench_load(
        workers: Annotated[int, typer.Option(help="`bot serve` workers sharing one Redis")] = 3,
        conversations: Annotated[int, typer.Option(help="conversations, all open at once")] = 1000,
        turns: Annotated[int, typer.Option(help="turns per conversation, sent in order")] = 5,
        concurrency: Annotated[int, typer.Option(help="requests in flight")] = 64,
        kill: Annotated[bool, typer.Option(help="SIGKILL one worker mid-run")] = True,
        kill_at: Annotated[float, typer.Option(help="share of turns acknowledged before the kill")] = 0.3,
        max_seconds: Annotated[float, typer.Option(help="stop sending after this long and report")] = 300.0,
        redis_url: Annotated[Optional[str], typer.Option(help="use this Redis (default: start a redis-server)")] = None,
        report: Annotated[Optional[Path], typer.Option(help="write load.md/.json and the workers' logs here")] = None,
        load_model: Annotated[str, typer.Option(
            "--model", help="scripted (rules), or real (the embedded model and the shipped skills)")] = "scripted",
        redis_fault: Annotated[str, typer.Option(
            help="at --kill-at also: none, restart (SIGKILL + start redis-server) or pause (SIGSTOP 3 s)")] = "none",
) -> None:
    """Several workers on one Redis under many conversations: no turn lost, doubled or reordered."""
    from pydantic import ValidationError

    from bot.bench.load import LoadSettings, load_table, run_load, write_load_report

    try:
        settings = LoadSettings(workers=workers, conversations=conversations, turns=turns, concurrency=concurrency,
                                kill=kill, kill_at=kill_at, max_seconds=max_seconds, redis_url=redis_url,
                                model=load_model, redis_fault=redis_fault)
    except ValidationError as err:
        raise typer.BadParameter(err.errors()[0]["msg"]) from None
    result = run_load(settings, log_dir=report / "logs" if report else None, on_event=console.print)
    Console().print(load_table(result))
    for path in write_load_report(report, result) if report else []:
        console.print(f"wrote {path}")
    if not (result.passed and result.complete):
        raise typer.Exit(1)


@bench_app.command("serve")
def bench_serve(
        levels: Annotated[str, typer.Option(help="concurrent conversations to measure, comma-separated")] = "1,4,16,64",
        max_batch: Annotated[int, typer.Option(help="largest batch of reads")] = 16,
        wait_ms: Annotated[float, typer.Option(help="how long a read waits for others to join its batch")] = 5.0,
        gather_ms: Annotated[float, typer.Option(
            help="how long a batch may wait for the next read of a turn in flight")] = 50.0,
        turns: Annotated[int, typer.Option(help="turns per conversation (at least 16 per level)")] = 2,
        report: Annotated[Optional[Path], typer.Option(help="write serve.md and serve.json here")] = None,
        model: ModelOption = None, device: DeviceOption = None, config: ConfigOption = None) -> None:
    """Throughput and latency of concurrent conversations over the shipped skills, batched vs one at a time."""
    from bot.bench.serve import bench_serve as run_bench, serve_table, write_serve_report

    settings = _settings(model, device, config)
    result = run_bench(settings, base=_base(settings), levels=[int(n) for n in levels.split(",")],
                       max_batch=max_batch, wait_seconds=wait_ms / 1000, gather_seconds=gather_ms / 1000,
                       turns_per_conversation=turns,
                       on_level=lambda l: console.print(f"{l.batching} x{l.concurrency}: {l.turns_per_second:.2f} "
                                                        f"turns/s, p95 {l.latency_p95_ms:.0f} ms"))
    print(serve_table(result))
    for path in write_serve_report(report, result) if report else []:
        console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
