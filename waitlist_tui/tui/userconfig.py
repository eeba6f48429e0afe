"""The desk's own settings file: `config.toml` under the platform's config directory.

    theme = "textual-light"

    [keys]                      # binding id = keys, comma-separated
    "queue.finder" = "m,f6"
    "finder.broadcast" = "B"

Binding ids are listed by `waitlist-tui keys` and on the help screen. The file is read with
tomllib and written with tomlkit, so a theme chosen in the app is saved without losing the
desk's comments or key lines. A broken file never stops the app: it starts with the
defaults and says what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from waitlist_tui.config import config_dir

FILE_NAME = "config.toml"


def config_path() -> Path:
    return config_dir() / FILE_NAME


@dataclass(frozen=True)
class UserConfig:
    theme: str | None = None
    keys: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def load(path: Path | None = None) -> UserConfig:
    path = path or config_path()
    if not path.exists():
        return UserConfig()
    import tomllib  # only when there is a file to read: most starts have none

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        return UserConfig(problems=(f"{path}: {err}; using the default keys and theme",))
    problems: list[str] = []
    theme = data.get("theme")
    if theme is not None and not isinstance(theme, str):
        problems.append(f'{path}: theme must be a name in quotes, e.g. "textual-light"')
        theme = None
    keys: dict[str, str] = {}
    table = data.get("keys", {})
    if not isinstance(table, dict):
        problems.append(f'{path}: [keys] must be a table of binding id = "keys"')
        table = {}
    for binding_id, value in table.items():
        if not isinstance(value, str) or not value.strip():
            problems.append(f'{path}: keys.{binding_id} must be keys in quotes, e.g. "m,f6"')
            continue
        keys[binding_id] = ",".join(k.strip() for k in value.split(",") if k.strip())
    return UserConfig(theme, keys, tuple(problems))


def unknown_ids(config: UserConfig, known: set[str]) -> list[str]:
    return sorted(set(config.keys) - known)


def save_theme(theme: str, path: Path | None = None) -> None:
    """Write `theme` into the file, keeping everything else in it as it was."""
    import tomlkit  # only when the theme changes: ~18 ms of start-up otherwise
    from tomlkit.exceptions import TOMLKitError

    path = path or config_path()
    document = tomlkit.document()
    if path.exists():
        try:
            document = tomlkit.parse(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, TOMLKitError):
            return  # a broken file is left for the desk to mend, not replaced
    document["theme"] = theme
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
