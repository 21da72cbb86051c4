"""Step adapters of the MuDSC miniature: one seed pair of one data set, and its report.

Each adapter imports what its step needs: a job runs one step, and the steps' modules together
(torch, open_clip, matplotlib) would cost every job seconds.
"""

from __future__ import annotations


def mudsc_miniature(args) -> None:
    """Train two ResNets on class-disjoint halves of a digit set, merge them every way, score."""
    from neulig.mudsc_miniature.pair import run_pair, write_pair

    result = run_pair(args.source, int(args.pair), args.params)
    write_pair(result, args.out_rows, args.out_landscape, args.out_info)


def mudsc_report(args) -> None:
    """The miniature's table (Markdown + CSV), lambda sweep and loss-landscape figures."""
    from neulig.reporting.sections.mudsc import write_section

    write_section(args.rows, args.landscapes, args.out_dir)
