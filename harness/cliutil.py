"""What every CLI command starts with: the project and its detections, or a clear error."""

import click

from .detections import DetectionError, load_all
from .project import Layout, ProjectNotFound


def layout_or_fail():
    try:
        return Layout()
    except ProjectNotFound as err:
        raise click.ClickException(str(err))


def detections_or_fail(layout, ids=None):
    try:
        return load_all(layout.detections, ids or None)
    except (DetectionError, ValueError) as err:
        raise click.ClickException(str(err))
