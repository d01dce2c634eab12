"""`pycolorize weights`: the authors' released model, fetched once into the cache, and what is
there listed, located and checked (pycolorize.models.zoo)."""
import os

from pycolorize.cli import EXIT_CODES, HelpFormatter, add_quiet

# zoo.DEFAULT, written out: importing pycolorize.models to build the parser would not be cheap (a test
# ties the two)
DEFAULT_MODEL = "hypercolumn"
TIMEOUT = 30.0  # zoo.TIMEOUT, likewise

SUMMARY = "fetch the released model once; list, locate and check what is cached"

DESCRIPTION = """\
The model the authors released (autocolorize.caffemodel.h5, 588,203,256 bytes, the paper's
hypercolumn model), fetched once and kept in the cache folder: $PYCOLORIZE_HOME, else
~/.cache/pycolorize. After `pycolorize weights fetch`, `pycolorize colorize PHOTO -o OUT` needs no
other argument, and in Python pycolorize.Colorizer.pretrained() loads it.

  fetch [NAME]    download it (once; an interrupted download resumes where it stopped), check
                  it, keep it. It gets its final name only once its size and its layers and
                  shapes (against the deploy net, in either published form of the file) are
                  right; its sha256 is recorded beside it (<file>.sha256).
                  --url URL (or the environment variable PYCOLORIZE_WEIGHTS_URL): from a mirror
                  (its size is then what the server announces); --from FILE: install a copy
                  brought by hand, after the same checks (the released size too when it is named
                  autocolorize.caffemodel.h5); --force: fetch again even if it is cached;
                  --timeout SECONDS: give up on a server that sends nothing for that long (the
                  unfinished download is kept, and the same command resumes it); --quiet.
  list            the known models and what the cache holds (unfinished downloads too)
  path [NAME]     print the cached file's path (status 1, one line, when it is not there)
  verify [NAME]   check the cached file again: sha256 against the record, layers and shapes

NAME is a model of the registry (`list`); the default is hypercolumn."""

EPILOG = f"""\
examples:
  pycolorize weights fetch                       # the released model, once (588 MB)
  pycolorize weights fetch --url https://mirror.example.org/autocolorize.caffemodel.h5
  pycolorize weights fetch --from ~/Downloads/autocolorize.caffemodel.h5
  pycolorize weights list
  pycolorize colorize --weights "$(pycolorize weights path)" photo.jpg -o out.png
  pycolorize weights verify

offline: on a machine that is online, run `pycolorize weights fetch` (or download the file from
  http://people.cs.uchicago.edu/~larsson/colorization/res/autocolorize.caffemodel.h5), bring the file
  over, and install it with `pycolorize weights fetch --from FILE`.

{EXIT_CODES}"""


def add_arguments(ap):
    sub = ap.add_subparsers(dest="action", metavar="ACTION", title="actions")
    sub.required = True

    def action(name, summary, description):
        return sub.add_parser(name, help=summary, description=description, formatter_class=HelpFormatter,
                              epilog=EXIT_CODES)

    def add_name(p):
        p.add_argument("name", nargs="?", default=DEFAULT_MODEL, metavar="NAME", help="the model")

    p = action("fetch", "download the model once (resuming), check it, keep it",
               "Download the model into the cache (resuming an unfinished download), check its size and its\n"
               "layers and shapes, and keep it with its sha256; nothing if it is already there (--force).\n"
               "Offline: on a machine that is online, run `pycolorize weights fetch` (or download the file),\n"
               "bring the file here, and install it with `pycolorize weights fetch --from FILE`.")
    add_name(p)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--url", help="fetch from this mirror (default: $PYCOLORIZE_WEIGHTS_URL, else the authors' address)")
    src.add_argument("--from", dest="from_file", metavar="FILE",
                     help="install this copy brought by hand (checked the same way), instead of downloading")
    p.add_argument("--force", action="store_true", help="fetch again even if the model is cached (the cached file "
                                                        "is replaced only by one that passes the checks)")
    p.add_argument("--timeout", type=float, default=TIMEOUT, metavar="SECONDS",
                   help="give up on a server that sends nothing for this long (the download is kept, to resume)")
    add_quiet(p, "no progress output")
    action("list", "the known models and what the cache holds", "The known models and what the cache holds.")
    p = action("path", "print the cached file's path", "Print the cached file's path; status 1, in one line, when it is not\n"
                                                       "there (nothing is downloaded).")
    add_name(p)
    p = action("verify", "check the cached file again (sha256, size, layers and shapes)",
               "Check the cached file again: its sha256 against the one recorded when it was fetched (a file\n"
               "put there by hand: the released size, and the sha256 is recorded now), its layers and shapes\n"
               "against the deploy net.")
    add_name(p)


def _size(n):
    return "size unknown" if n is None else f"{n:,} bytes"


def run(args):
    from pycolorize.models import zoo

    if args.action == "list":
        print(f"cache: {zoo.home()}" + (f" (${zoo.HOME_ENV})" if os.environ.get(zoo.HOME_ENV) else ""))
        for entry in zoo.list():
            name = entry["name"]
            print(f"{name}{' (default)' if name == zoo.DEFAULT else ''}: {entry['description']}")
            print(f"  file    {entry['file']}, {_size(entry['size'])}, from {entry['url']}")
            print(f"  net     {entry['prototxt']}")
            if entry["path"]:
                sha = f", sha256 {entry['sha256'][:16]}..." if entry["sha256"] else ", no sha256 recorded"
                print(f"  cached  {entry['path']} ({_size(entry['bytes'])}{sha})")
            elif entry["partial"] is not None:
                print(f"  cached  no; an unfinished download of {entry['partial']:,} bytes "
                      f"(`{zoo.fetch_command(name)}` resumes it)")
            else:
                print(f"  cached  no (`{zoo.fetch_command(name)}`)")
        return 0
    name = args.name
    zoo.model(name)  # an unknown name: one line naming the known ones
    if args.action == "path":
        print(zoo.path(name))
        return 0
    if args.action == "verify":
        r = zoo.verify(name)
        size = "the released size" if r["released_size"] else "not the released size: a mirror's or a converted copy"
        sha = "as recorded" if r["recorded"] else "recorded now (there was no record)"
        print(f"{r['path']}: ok ({r['size']:,} bytes, {size}; sha256 {r['sha256'][:16]}... {sha}; layers and shapes "
              f"match {os.path.basename(zoo.prototxt(name))})")
        return 0
    # fetch
    final = zoo.location(name)
    if args.from_file is None and not args.force and os.path.isfile(final):
        print(f"{name} is already in the cache: {final} (`pycolorize weights verify` checks it; --force fetches it again)")
        return 0
    path = zoo.fetch(name, url=args.url, from_file=args.from_file, progress=not args.quiet, timeout=args.timeout,
                     force=args.force)
    if not args.quiet:
        print(f"{name}: {path} ({os.path.getsize(path):,} bytes; size, layers and shapes checked; sha256 recorded)")
    return 0
