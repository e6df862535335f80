"""`build`: a container image that serves the model, labelled with its lineage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelship.ci.context import Result, StageContext
from modelship.spec import Input, Output, Stage
from modelship.stages.shared import TRACKING_URI

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from modelship.images.builders import Builder, BuiltImage, RegistryAuth
    from modelship.images.buildsecrets import SecretSource
    from modelship.images.labels import LabelFacts
    from modelship.images.model import ModelInfo
    from modelship.stages.input_names import BuildInput

_IMAGE = r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"

STAGE = Stage(
    name="build",
    title="Build the serving image",
    description=(
        "Build a container image that serves the model with MLflow's scoring server, "
        "labelled with its lineage (OCI labels), with Docker, Buildah or Podman; "
        "optionally push it."
    ),
    run="modelship.stages.build:run",
    extras=("mlflow", "image"),
    gitlab_stage="build",
    inputs=(
        Input(
            "model-uri",
            "The model to serve, e.g. `models:/churn/3` or `runs:/<run-id>/model`.",
            required=True,
        ),
        Input(
            "image",
            "Image repository without tag, e.g. `ghcr.io/acme/churn`.",
            required=True,
            pattern=_IMAGE,
        ),
        Input(
            "tags",
            "Tags, one a line or comma-separated, e.g. `1.4.0`. Default: the version "
            "and short SHA (as the context stage gives them) and `model-<version>` for a "
            "registered model.",
            type="list",
            default="",
            pattern=_TAG,
        ),
        Input(
            "builder",
            "Image builder; `auto` takes a reachable Docker engine, else buildah, else podman.",
            default="auto",
            options=("auto", "docker", "buildah", "podman"),
        ),
        Input(
            "base-image",
            "Base image with Python 3 and venv, e.g. `python:3.11-slim`. Default: the "
            "official slim Python image for the model's Python version. Without a public "
            "registry (air-gapped), pass one of your own registry or one made locally from "
            "Debian packages (`debootstrap` then `docker import`): see docs/containers.md.",
            default="",
        ),
        Input(
            "build-args",
            "Build arguments for the pip install step, `KEY=value` one a line, e.g. "
            "`PIP_INDEX_URL=https://pypi.example.com/simple`. Kept in the image history: "
            "never a password (use `secrets`).",
            default="",
        ),
        Input(
            "secrets",
            "Build secrets mounted for the pip install step only, one a line: "
            "`id=pipconf,src=.ci/pip.conf` or `id=pipconf,env=PIP_CONF`. `pipconf` is pip's "
            "configuration (a private index), `cacert` a CA bundle pip trusts. In no layer.",
            default="",
        ),
        Input(
            "network",
            "Network of the build's RUN steps: `default`, `host` (reach an index on the "
            "runner's loopback) or `none`.",
            default="default",
            options=("default", "host", "none"),
        ),
        Input(
            "push", "Push every tag to the registry, e.g. `true`.", type="boolean", default="false"
        ),
        Input(
            "registry",
            "Registry to log in to, e.g. `ghcr.io`. Default: the host in `image`.",
            default="",
        ),
        Input(
            "registry-username",
            "User for the registry login, e.g. `ci-bot` (on GitHub, the `github.actor`).",
            default="",
        ),
        Input(
            "registry-password",
            "Password or token for the registry login (never written to a layer, label or log).",
            secret=True,
        ),
        Input(
            "labels",
            "Extra image labels, `key=value` one a line, e.g. "
            "`org.opencontainers.image.vendor=Acme`.",
            default="",
        ),
        Input(
            "context-dir",
            "Only write the build context (Containerfile, requirements, model) to this "
            "folder and stop, e.g. `build/image`.",
            type="path",
            default="",
        ),
        Input(
            "platform",
            "Target platform, e.g. `linux/amd64`.",
            default="",
            pattern=r"[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?",
        ),
        TRACKING_URI,
    ),
    outputs=(
        Output("image", "The first full reference, e.g. `ghcr.io/acme/churn:1.4.0`."),
        Output("tags", 'Every full reference as a JSON list, e.g. `["ghcr.io/acme/churn:1.4.0"]`.'),
        Output(
            "digest",
            "`sha256:...`: the registry manifest digest when pushed, else the local image's.",
        ),
        Output(
            "image-ref",
            "The reference to deploy: `<image>@sha256:...` when pushed, else the local tag "
            "`<image>:<tag>` that the builder's own engine runs.",
        ),
    ),
    example_with={
        "model-uri": "models:/churn/3",
        "image": "ghcr.io/acme/churn",
        "push": "true",
        "registry-username": "${{ github.actor }}",
        "registry-password": "${{ secrets.GITHUB_TOKEN }}",
    },
)


def run(ctx: StageContext[BuildInput]) -> Result:
    import tempfile
    from pathlib import Path

    from modelship.images import builders, model
    from modelship.tracking.uris import resolve_tracking_uri, uri_secrets

    repo = ctx.inputs.text("image")
    push = ctx.inputs.flag("push")
    auth = _registry_auth(ctx, repo) if push else None
    context_dir = ctx.inputs.path("context-dir", ctx.workspace)  # refused before any download
    tracking_uri = resolve_tracking_uri(ctx.inputs.optional("tracking-uri"), ctx.env, ctx.workspace)
    for secret in uri_secrets(tracking_uri, ctx.env):
        ctx.log.mask(secret)

    with tempfile.TemporaryDirectory(prefix="modelship-build-") as tmp:
        with ctx.log.progress(f"downloading {ctx.inputs.text('model-uri')}"):
            info = model.fetch(
                ctx.inputs.text("model-uri"),
                Path(tmp) / "download",
                tracking_uri,
                ctx.env,
                ctx.env.get("MLFLOW_REGISTRY_URI") or None,
            )
        if info.lineage_error:
            ctx.log.warning(f"lineage of {info.uri} could not be read: {info.lineage_error}")
        context = _write_context(ctx, info, repo, context_dir or Path(tmp) / "context")
        if context.only_written:
            return Result(
                {"image": context.refs[0], "tags": context.refs, "digest": "", "image-ref": ""}
            )

        builder = builders.choose(ctx.inputs.text("builder"), ctx.env)
        if isinstance(builder, builders.CliBuilder | builders.DockerBuilder):
            builder.base_image = context.base_image
        ctx.log.info(f"building {context.refs[0]} with {builder.name} from {context.base_image}")
        built = _build_with_secrets(
            ctx, builder, context.folder, context.refs, context.build_args, context.secrets
        )

    digest = built.digest
    if push:
        for ref in context.refs:
            digest = builder.push(ref, auth, ctx.log) or digest
        ctx.log.info(f"pushed {len(context.refs)} tag(s) to {registry_for(ctx, repo)}")

    _summary_result(ctx, built, digest, pushed=push)
    # Unpushed, a digest reference would send the engine to a registry that has
    # no such image; the local tag is what `docker run` and `podman run` find.
    image_ref = f"{repo}@{digest}" if push and digest else context.refs[0]
    ctx.log.info(f"built {context.refs[0]} ({_size(built.size)}), {image_ref or 'no digest'}")
    return Result(
        {"image": context.refs[0], "tags": context.refs, "digest": digest, "image-ref": image_ref}
    )


def registry_for(ctx: StageContext[BuildInput], repo: str) -> str:
    return ctx.inputs.text("registry") or registry_host(repo)


def _registry_auth(ctx: StageContext[BuildInput], repo: str) -> RegistryAuth | None:
    """Credentials for the push: both or neither (then the builder's own login)."""
    from modelship.ci.errors import UsageError
    from modelship.images.builders import RegistryAuth

    username = ctx.inputs.optional("registry-username")
    password = ctx.inputs.optional("registry-password")
    if password and not username:
        raise UsageError(
            "registry-password is set but registry-username is not",
            "pass both, or neither to use the credentials the builder already has",
        )
    if username and password:
        return RegistryAuth(registry_for(ctx, repo), username, password)
    return None


@dataclass(frozen=True)
class WrittenContext:
    """The build context on disk, and what the build needs to know about it."""

    folder: Path
    refs: list[str]
    base_image: str
    build_args: dict[str, str]
    secrets: list[SecretSource]
    only_written: bool  # `context-dir`: the user builds it


def _write_context(
    ctx: StageContext[BuildInput], info: ModelInfo, repo: str, target: Path
) -> WrittenContext:
    """Render the Containerfile and the model into a folder, refusing one that holds a secret."""
    from datetime import datetime, timezone

    from modelship.ci.errors import UsageError
    from modelship.ci.inputs import parse_key_values
    from modelship.images import buildcontext, buildsecrets
    from modelship.images.labels import image_labels

    facts = _label_facts(ctx, info, datetime.now(timezone.utc))
    labels = image_labels(facts, parse_key_values("labels", ctx.inputs.text("labels")))
    refs = [f"{repo}:{tag}" for tag in _tags(ctx, info)]
    base_image = ctx.inputs.text("base-image") or buildcontext.default_base_image(
        info.python_version
    )
    build_args = buildsecrets.parse_build_args(_lines(ctx.inputs.text("build-args")))
    secret_sources = _secret_sources(ctx)
    rendered = buildcontext.render(
        info, target, base_image, labels, build_args, [s.id for s in secret_sources]
    )
    password = ctx.inputs.optional("registry-password") or ""
    leaked = buildcontext.find_secret(target, [password, *ctx.inputs.secrets()])
    if leaked is not None:
        buildcontext.discard(rendered)  # no secret stays on disk in `context-dir`
        raise UsageError(
            f"a secret input appears in the build context ({leaked.relative_to(target)})",
            "remove it from the labels or the model; secrets never go into an image",
        )
    _summary_head(ctx, info, base_image, refs, labels)
    only_written = ctx.inputs.given("context-dir")
    if only_written:
        ctx.log.info(f"build context written to {target}; not building (context-dir)")
        ctx.summary.text(
            f"Build context written to {target}. Build it with: "
            f"buildah build --format docker -f {rendered.containerfile.name} -t {refs[0]} ."
        )
    return WrittenContext(target, refs, base_image, build_args, secret_sources, only_written)


def _build_with_secrets(
    ctx: StageContext[BuildInput],
    builder: Builder,
    context: Path,
    refs: list[str],
    build_args: dict[str, str],
    sources: list[SecretSource],
) -> BuiltImage:
    """Build with the secrets as files that exist for the build only, masked in the log."""
    from modelship.ci.errors import UsageError
    from modelship.images import buildcontext, buildsecrets

    with buildsecrets.secret_files(sources, ctx.env) as files:
        for value in buildsecrets.secret_values(files):
            ctx.log.mask(value)
        texts = [path.read_text(encoding="utf-8", errors="replace") for path in files.values()]
        copied = buildcontext.find_secret(context, texts)
        if copied is not None:
            raise UsageError(
                f"a build secret is a file of the build context "
                f"({copied.relative_to(context)}): it would land in a layer",
                "keep pip configurations and credentials out of the model's artifacts",
            )
        options = buildsecrets.BuildOptions(build_args, files, ctx.inputs.text("network"))
        return builder.build(context, refs, ctx.inputs.optional("platform"), ctx.log, options)


def _secret_sources(ctx: StageContext[BuildInput]) -> list[SecretSource]:
    """The `secrets` input, with each file confined to the workspace."""
    from modelship.images.buildsecrets import SecretSource, parse_secrets

    sources = parse_secrets(_lines(ctx.inputs.text("secrets")))
    confined: list[SecretSource] = []
    for source in sources:
        if source.file is not None:
            path = ctx.path(str(source.file), f"input 'secrets' ({source.id})")
            source = SecretSource(source.id, path)
        confined.append(source)
    return confined


def _lines(text: str) -> list[str]:
    """Non-blank lines that are not `#` comments (values may hold commas)."""
    stripped = (line.strip() for line in text.splitlines())
    return [line for line in stripped if line and not line.startswith("#")]


def registry_host(repo: str) -> str:
    """`ghcr.io/acme/churn` -> `ghcr.io`; a name without a host means Docker Hub."""
    first, sep, _ = repo.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def _tags(ctx: StageContext[BuildInput], info: ModelInfo) -> list[str]:
    given = ctx.inputs.items("tags")
    if given:
        return list(dict.fromkeys(given))
    context = _context_outputs(ctx)
    tags = [context.get("image-tag", ""), context.get("short-sha", "")]
    if info.version:
        tags.append(f"model-{info.version}")
    tags = [t for t in tags if t]
    if not tags:
        ctx.log.warning("no tags given and no version known (no git checkout): tagging `latest`")
        tags = ["latest"]
    return list(dict.fromkeys(tags))


def _context_outputs(ctx: StageContext[BuildInput]) -> dict[str, str]:
    """What the context stage said (GitLab dotenv, a local run), else work it out from git."""
    from modelship.ci.errors import ModelshipError
    from modelship.ci.outputs import dotenv_name, read_local

    found = {
        name: ctx.env.get(dotenv_name("context", name), "")
        for name in ("image-tag", "short-sha", "version", "sha")
    }
    if found["image-tag"]:
        return found
    local = read_local(ctx.workspace, "context")
    if local.get("image-tag"):
        return local
    try:
        from modelship.source import gitinfo
        from modelship.source.refs import read_ref
        from modelship.source.versioning import oci_tag, semver

        ref = read_ref(ctx.platform, ctx.cwd)
        described = gitinfo.describe(ctx.cwd)
        short = ref.sha[:7]
        version = semver(described.tag, described.distance, short)
        if ref.tag and gitinfo.RELEASE_TAG.match(ref.tag):
            version = ref.tag[1:]
        return {
            "image-tag": oci_tag(version),
            "short-sha": short,
            "version": version,
            "sha": ref.sha,
        }
    except (ModelshipError, ValueError, OSError):
        return {}


def _label_facts(ctx: StageContext[BuildInput], info: ModelInfo, now: datetime) -> LabelFacts:
    from modelship.images.labels import LabelFacts

    context = _context_outputs(ctx)
    lineage = info.lineage
    source = ctx.platform.repository_url or _public_url(lineage.get("repository", ""))
    return LabelFacts(
        source=source,
        revision=lineage.get("git-sha") or context.get("sha", ""),
        version=context.get("version") or (f"model-{info.version}" if info.version else ""),
        title=info.name or ctx.platform.repository_name,
        created=now,
        run_id=info.run_id,
        model_name=info.name,
        model_version=info.version,
        model_uri=info.uri,
        data_version=lineage.get("data-version", ""),
        branch=lineage.get("branch", ""),
        ci_run_url=lineage.get("ci-run-url") or ctx.platform.run_url,
    )


def _public_url(url: str) -> str:
    """A repository URL without credentials (a token in a clone URL must not become a label)."""
    from urllib.parse import urlsplit, urlunsplit

    if not url.startswith(("http://", "https://")):
        return ""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path.removesuffix(".git"), "", ""))


def _summary_head(
    ctx: StageContext[BuildInput],
    info: ModelInfo,
    base_image: str,
    refs: list[str],
    labels: dict[str, str],
) -> None:
    ctx.summary.heading("Image")
    rows = [["model", info.uri], ["base image", base_image]]
    if info.name:
        rows.append(["registered model", f"{info.name} version {info.version}"])
    rows.extend(["tag", ref] for ref in refs)
    ctx.summary.table(["", ""], rows)
    ctx.summary.heading("Labels", level=4)
    ctx.summary.table(["label", "value"], [[k, v] for k, v in labels.items()])


def _summary_result(
    ctx: StageContext[BuildInput], built: BuiltImage, digest: str, pushed: bool
) -> None:
    ctx.summary.heading("Result", level=4)
    ctx.summary.table(
        ["", ""],
        [
            ["digest", digest or "(none)"],
            ["image id", built.id],
            ["size", _size(built.size)],
            ["pushed", "yes" if pushed else "no"],
            ["user", built.user or "(root)"],
        ],
    )


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
