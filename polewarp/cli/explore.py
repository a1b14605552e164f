"""polewarp explore: find a view by dragging the globe in the browser, then save it or copy its command."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from ..data import default_map
from ..engine.imageio import check_regular_file
from . import options as shared

log = logging.getLogger("polewarp")


@click.command()
@click.argument("input_arg", metavar="[INPUT]", required=False, type=click.Path(dir_okay=False))
@shared.geometry_options
@shared.encoder_options
@shared.build_options
@shared.cache_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback lets other machines drive the server.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port to listen on [a free one].")
@click.option("--no-browser", is_flag=True, help="Print the URL only; do not open a browser.")
@click.option("--save-dir", type=click.Path(file_okay=False, exists=True, writable=True), default=".",
              show_default=True, help="Folder that Save writes into (under names the server makes).")
@click.pass_context
def explore(ctx, input_arg, fill, graticule_color, host, port, no_browser, save_dir, **options):
    """Explore views of INPUT (default: the embedded map) in the browser, live, until Ctrl-C.

    Drag to move the centre, shift-drag or the arrow keys to turn the heading, the wheel or +/- to
    zoom where the projection has an extent. The geometry options set the starting view; Save
    renders the view through the normal pipeline (at --size, or the size the page asks for), as its
    `polewarp convert` command would.
    """
    from ..explore.explorer import Explorer, Settings
    from ..explore.server import LOOPBACK, serve

    geometry, size, input_options = shared.take_read_geometry(ctx, options)
    input_path = Path(input_arg) if input_arg else default_map()
    check_regular_file(input_path)
    if host not in LOOPBACK:
        log.warning("explore: listening on %s: other machines can reach this server and write into %s",
                    host, save_dir)
    settings = Settings(input_path=input_path, start=geometry, input_options=input_options, save_size=size,
                        shown_input=input_path.resolve() if input_arg else None, save_dir=Path(save_dir),
                        build=shared.take_build(options), cache=shared.take_cache(options), fill=fill,
                        graticule_color=graticule_color, encoder=shared.take_encoder(options))

    def ready(url: str) -> None:
        click.echo(f"polewarp explore: {url}  (Ctrl-C to stop)")
        if not no_browser:
            import webbrowser

            webbrowser.open(url)

    serve(Explorer(settings), host, port, ready)
