"""Input problems that stop a run before anything is read (the CLI turns them into exit status 2)."""


class InputError(Exception):
    """The input named on the command line cannot be used at all (a bad S3 URL, no boto3, ...)."""


class InputNotFound(InputError):
    """Paths named on the command line that do not exist."""

    def __init__(self, missing):
        self.missing = list(missing)
        super().__init__("no such file or directory: %s" % ", ".join(self.missing))
