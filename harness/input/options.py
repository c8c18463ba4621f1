"""The replay command's input options (--since/--until/--account/--region/--profile), as one decorator.

They reach the command as one ``reader_options`` dict, passed through to ``Reader`` unchanged, so the
command's own signature and the reader's keyword arguments stay in step in one place."""

import functools

import click

_NAMES = ("since", "until", "accounts", "regions", "profile")


def reader_options(command):
    @click.option("--since", metavar="WHEN",
                  help="Only records at or after WHEN (2026-03-10 or 2026-03-10T09:00:00Z, UTC); on s3:// also "
                       "lists only the day folders from then.")
    @click.option("--until", metavar="WHEN",
                  help="Only records before WHEN (a date means the end of that day); on s3:// lists up to the "
                       "day after it.")
    @click.option("--account", "accounts", metavar="ID[,ID]", multiple=True,
                  help="Only these AWS accounts (recipientAccountId; on s3:// the AWSLogs/<account>/ folders).")
    @click.option("--region", "regions", metavar="REGION[,REGION]", multiple=True,
                  help="Only these regions (awsRegion; on s3:// the CloudTrail/<region>/ folders).")
    @click.option("--profile", metavar="NAME", help="AWS profile for s3:// paths (default: boto3's credential chain).")
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        kwargs["reader_options"] = {name: kwargs.pop(name) for name in _NAMES}
        return command(*args, **kwargs)
    return wrapper
