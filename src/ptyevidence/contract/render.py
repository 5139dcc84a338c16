"""Markdown renderings of contracts and validation reports."""

from __future__ import annotations

from .._format import dims_text, markdown_table, number_text, shape_text
from .model import DatasetContract
from .validate import ValidationReport

__all__ = ["contract_markdown", "validation_markdown"]


def contract_markdown(contract: DatasetContract, heading_level: int = 1) -> str:
    """Render a contract as Markdown: fields, dimensions, value rules, notes.

    Parameters
    ----------
    contract : DatasetContract
        The contract to render.
    heading_level : int
        Level of the top heading (2 to nest it in a larger document).

    Returns
    -------
    str
    """
    h = "#" * heading_level
    out = [f"{h} Contract `{contract.name}`: {contract.title}", "", contract.description, ""]
    if contract.kind == "pipeline":
        return _pipeline_markdown(contract, h, out)
    rows = []
    for f in contract.fields:
        dtypes = ", ".join(f.dtypes) or "any"
        tolerated = ", ".join(f"{d} ({s})" for d, s in f.tolerated_dtypes.items())
        aliases = ", ".join(f"`{a}` ({s})" for a, s in f.aliases.items())
        shape = shape_text(f.shape)
        if f.alt_shapes:
            shape += "; also " + "; ".join(f"{shape_text(s)} ({sev})" for s, sev in f.alt_shapes)
        rows.append(
            [
                f"`{f.name}`",
                f.role,
                "yes" if f.required else "no",
                dtypes,
                tolerated or "-",
                shape,
                aliases or "-",
                f.description,
            ]
        )
    out += _section(
        h, "Fields", ["Field", "Role", "Required", "dtype", "Also accepted", "Shape", "Aliases", "Meaning"], rows
    )
    dim_rows = [
        [name, spec.get("min", "-"), _dim_relations(spec), spec.get("description", "")]
        for name, spec in contract.dims.items()
    ]
    out += _section(h, "Dimensions", ["Dim", "Minimum", "Also", "Meaning"], dim_rows)
    if contract.rules:
        rule_rows = [
            [
                f"`{r.id}`",
                ", ".join(f"`{x}`" for x in r.fields) or "-",
                r.check,
                _rule_value(r),
                r.severity,
                r.description,
                "; ".join(r.source) or "-",
            ]
            for r in contract.rules
        ]
        out += [
            f"{h}# Rules",
            "",
            (
                "Value rules check the values; rules of check required, dtype, rank, size, dims or layout "
                "name the binding's findings about those fields or dimensions."
            ),
            "",
            markdown_table(["Rule", "Fields", "Check", "Value", "Severity", "Meaning", "Source"], rule_rows),
            "",
        ]
    notes = []
    if contract.layout:
        lay = contract.layout
        notes.append(
            f"Stack order of `{lay['field']}`: canonical {shape_text(lay['canonical'])}, legacy "
            f"{shape_text(lay['legacy'])} (severity {lay.get('legacy_severity', 'error')}). " + lay.get("note", "")
        )
    for f in contract.fields:
        for alias, sev in f.aliases.items():
            notes.append(f"`{alias}` is read as `{f.name}` (severity {sev}).")
    return _ending(out, f"{h}# Layout and alias notes", notes, contract.sources)


def _section(h: str, title: str, headers: list[str], rows: list[list]) -> list[str]:
    """Lines of a titled table section; none when there are no rows."""
    return [f"{h}# {title}", "", markdown_table(headers, rows), ""] if rows else []


def _ending(out: list[str], heading: str, notes: list[str], sources: tuple[str, ...]) -> str:
    """Join ``out`` and a last section listing ``notes`` and ``sources`` (left out when both are empty)."""
    if notes or sources:
        out += [heading, "", *(f"- {n}" for n in notes), *(f"- Source: {s}" for s in sources), ""]
    return "\n".join(out).rstrip() + "\n"


def _dim_relations(spec: dict) -> str:
    """Return the dimension's relations besides its minimum: equals, offset, one_of."""
    parts = []
    if "equals" in spec:
        offset = spec.get("offset", 0)
        parts.append(f"= {spec['equals']}" + (f" {'+' if offset > 0 else '-'} {abs(offset)}" if offset else ""))
    if "one_of" in spec:
        parts.append("one of " + ", ".join(map(str, spec["one_of"])))
    return "; ".join(parts) or "-"


def _rule_value(rule) -> str:
    """Return a rule's threshold and parameters, briefly."""
    parts = [] if rule.value is None else [f"{rule.value:g}"]
    if rule.dim:
        parts.append(f"dim {rule.dim}")
    parts += [f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in rule.params.items()]
    return "; ".join(parts) or "-"


def _pipeline_markdown(contract: DatasetContract, h: str, out: list[str]) -> str:
    """Fields of a pipeline contract with presence, framework, notes and citations."""
    rows = []
    for f in contract.fields:
        array = f.presence in ("stored", "derived")
        presence = f.presence
        if f.derive:
            presence += f" ({f.derive['op']} of {', '.join(f.derive['of'])})"
        notes = "; ".join(f"{k}: {v}" for k, v in f.semantics.items())
        rows.append(
            [
                f"`{f.name}`",
                f.role,
                presence,
                (", ".join(f.dtypes) or "any") if array else "-",
                shape_text(f.shape) if array else "-",
                f.framework or contract.framework or "-",
                notes or "-",
                ", ".join(f.source) or "-",
                f.description or "-",
            ]
        )
    headers = ["Field", "Role", "Presence", "dtype", "Shape", "Framework", "Semantics", "Source", "Meaning"]
    out += _section(h, "Fields", headers, rows)
    dim_rows = [
        [name, spec.get("size", spec.get("min", "-")), spec.get("description", "")]
        for name, spec in contract.dims.items()
    ]
    out += _section(h, "Dimensions", ["Dim", "Size or minimum", "Meaning"], dim_rows)
    notes = [f"Axis `{a}` is aligned with `{b}` of other contracts." for a, b in contract.axis_aliases.items()]
    return _ending(out, f"{h}# Axis aliases and sources", notes, contract.sources)


def validation_markdown(report: ValidationReport, heading_level: int = 2) -> str:
    """Render a validation report: verdict, fields seen, statistics, findings.

    Parameters
    ----------
    report : ValidationReport
        From :func:`ptyevidence.validate_dataset`.
    heading_level : int
        Level of the top heading.

    Returns
    -------
    str
    """
    h = "#" * heading_level
    out = [f"{h} Findings for `{report.path}`", "", f"**{report.verdict}**", ""]
    dims = dims_text(report.dims)
    out += [f"Format: {report.format}; stack layout: {report.layout or '-'}; dims: {dims or '-'}", ""]
    field_rows = [
        [f"`{name}`", f"`{e['key']}`", e["dtype"], shape_text(e["shape"])] for name, e in report.fields.items()
    ]
    out += _section(h, "Fields present", ["Field", "Key", "dtype", "Stored shape"], field_rows)
    stat_rows = [
        [
            f"`{name}`",
            number_text(s["min"], 6),
            number_text(s["max"], 6),
            number_text(s["mean"], 6),
            number_text(s["finite_fraction"], 6),
            s["count"],
        ]
        for name, s in report.stats.items()
    ]
    headers = ["Field", "min", "max", "mean", "finite fraction", "values"]
    out += _section(h, "Value statistics (complex: modulus)", headers, stat_rows)
    finding_rows = [[f.severity, f"`{f.rule}`", f"`{f.field}`", f.message] for f in report.findings]
    out += [f"{h}# Findings", ""]
    out.append(
        markdown_table(["Severity", "Rule", "Field", "Message"], finding_rows) if finding_rows else "No findings."
    )
    return "\n".join(out).rstrip() + "\n"
