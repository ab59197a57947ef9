"""The CDK context of a local deployment: context keys the stack supports for every user.

- `fanout:namePrefix` and `fanout:stackName`: `fanout-local` (or the run's prefix);
- `fanout:<channel>:apiBaseUrl`: the stand-in's (or given) base URL of each channel;
- `fanout:githubTokenSecretName`: the local default GitHub token secret, by name;
- `fanout:operatorRole`: the operator role `fanout local up` hands out;
- `fanout:<channel>:<setting>`: the run's channel settings that differ from the registry's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from fanout import registry
from fanout.local.provision import DEFAULT_GITHUB_TOKEN_SECRET


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def local_context(
    prefix: str,
    api_urls: Mapping[str, str],
    settings: Mapping[str, registry.ChannelSettings],
    *,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "fanout:namePrefix": prefix,
        "fanout:stackName": prefix,
        "fanout:githubTokenSecretName": DEFAULT_GITHUB_TOKEN_SECRET,
        "fanout:operatorRole": True,
    }
    for name, url in sorted(api_urls.items()):
        context[f"fanout:{name}:apiBaseUrl"] = url
    for name, chosen in sorted(settings.items()):
        defaults = registry.get(name).settings
        for f in fields(chosen):
            value = getattr(chosen, f.name)
            if value != getattr(defaults, f.name):
                context[f"fanout:{name}:{camel(f.name)}"] = "null" if value is None else value
    context.update(extra or {})
    return context
