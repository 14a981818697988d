"""1.x `pluginDefaults`: default property values for every plugin (task, trigger, task runner)
whose type equals or starts with the default's `type`; `forced` values win over the flow's
(source `services/PluginDefaultService.java`: `defaults()` and `recursiveDefaults()`).
Removed in 2.x (kestra.md §14), where the parser rejects the key."""
from __future__ import annotations

from typing import Any, Dict, List


def merge(base: Any, override: Any) -> Any:
    """Deep merge of maps, `override` winning (MapUtils.merge)."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base.get(key), value) if key in base else value
        return out
    return override


def apply_plugin_defaults(flow: Dict[str, Any]) -> Dict[str, Any]:
    defaults: List[Dict[str, Any]] = [d for d in flow.get("pluginDefaults") or [] if isinstance(d, dict)]
    if not defaults:
        return flow
    out = {k: (v if k == "pluginDefaults" else _walk(v, defaults)) for k, v in flow.items()}
    return out


def _walk(node: Any, defaults: List[Dict[str, Any]]) -> Any:
    if isinstance(node, list):
        return [_walk(item, defaults) for item in node]
    if not isinstance(node, dict):
        return node
    node = {k: _walk(v, defaults) for k, v in node.items()}
    ptype = node.get("type")
    if not isinstance(ptype, str):
        return node
    for default in defaults:
        dtype = default.get("type")
        if isinstance(dtype, str) and (ptype == dtype or ptype.startswith(dtype)):
            values = default.get("values") or {}
            node = merge(node, values) if default.get("forced") else merge(values, node)
    return node
