"""What a benchmark gets: the running stack, the seeder, the sizes to use, a scratch folder."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.seeding import Seeder
from benchmarks.stack import Stack

MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class Profile:
    """Sizes and repeat counts; the default one fits in ~6 minutes on 2 cores."""

    name: str
    upload_sizes: tuple[int, ...]
    upload_repeats: int
    memory_sizes: tuple[int, ...]
    models: int
    page_sizes: tuple[int, ...]
    listing_repeats: int
    tree_folders: int
    tree_files_per_folder: int
    busy_upload_size: int
    busy_rounds: int


DEFAULT = Profile(
    name="default",
    upload_sizes=(256 * MIB, GIB),
    upload_repeats=3,
    memory_sizes=(64 * MIB, GIB),
    models=2000,
    page_sizes=(100, 1000),
    listing_repeats=6,
    tree_folders=8,
    tree_files_per_folder=10,
    busy_upload_size=GIB,
    busy_rounds=4,
)

QUICK = Profile(
    name="quick",
    upload_sizes=(32 * MIB, 128 * MIB),
    upload_repeats=2,
    memory_sizes=(16 * MIB, 128 * MIB),
    models=300,
    page_sizes=(100, 1000),
    listing_repeats=3,
    tree_folders=3,
    tree_files_per_folder=5,
    busy_upload_size=128 * MIB,
    busy_rounds=4,
)


@dataclass(frozen=True)
class Context:
    stack: Stack
    seeder: Seeder
    profile: Profile
    scratch: Path


def progress(message: str) -> None:
    """A progress line on stderr, so the tables on stdout stay clean."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def size_label(size: int) -> str:
    return f"{size // GIB} GiB" if size % GIB == 0 else f"{size // MIB} MiB"
