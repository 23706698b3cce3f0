"""Loading `mapping_specs/`: systems, templates and tenants, with errors that name file and path.

Templates resolve through the canonical hub: `adp_to_fidelity` is the ADP inbound spoke plus the
Fidelity outbound spoke plus whatever `templates/adp_to_fidelity.yaml` overrides; a pair without a file,
such as `gusto_to_relius`, is the two spokes alone. A tenant's own overrides apply last.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from synclinqs_pipelines.mapping.errors import SpecError
from synclinqs_pipelines.mapping.plan import MappingPlan, PlanError, build_plan
from synclinqs_pipelines.mapping.spec import Rule, SystemSpec, TemplateSpec, TenantSpec

M = TypeVar("M", bound=BaseModel)
CANONICAL = "canonical"


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(path, [f"cannot read the file: {exc.strerror}"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise SpecError(path, [f"not valid YAML at {where}: {getattr(exc, 'problem', exc)}"]) from None


def load_model(path: Path, model: type[M]) -> M:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise SpecError(path, ["the file must hold a mapping of keys to values"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = err["msg"]
            if err["type"] == "missing":
                msg = "required key is missing"
            elif err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling against the JSON Schema)"
            problems.append(f"{_loc(err['loc'])}: {msg}")
        raise SpecError(path, problems) from None


def spec_kind(path: Path) -> str:
    return path.parent.name


@dataclass(frozen=True)
class ResolvedTemplate:
    name: str
    source: SystemSpec
    destination: SystemSpec
    inbound: MappingPlan
    outbound: MappingPlan
    digest: str
    files: tuple[str, ...]


class SpecCatalog:
    """Every spec under one root, loaded and cross-checked."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.systems: dict[str, SystemSpec] = {}
        self.system_paths: dict[str, Path] = {}
        self.aliases: dict[str, str] = {}
        self.templates: dict[str, TemplateSpec] = {}
        self.template_paths: dict[str, Path] = {}
        problems: list[SpecError] = []
        for path in sorted((root / "systems").glob("*.yaml")):
            try:
                spec = load_model(path, SystemSpec)
            except SpecError as exc:
                problems.append(exc)
                continue
            self.systems[spec.system] = spec
            self.system_paths[spec.system] = path
            for alias in (spec.system, *spec.aliases):
                self.aliases[alias] = spec.system
        for path in sorted((root / "templates").glob("*.yaml")):
            try:
                tpl = load_model(path, TemplateSpec)
            except SpecError as exc:
                problems.append(exc)
                continue
            if tpl.template != path.stem:
                problems.append(SpecError(path, [f"template: '{tpl.template}' must match the file name '{path.stem}'"]))
            self.templates[tpl.template] = tpl
            self.template_paths[tpl.template] = path
        if problems:
            raise SpecError(None, [str(p) for p in problems])
        if CANONICAL not in self.systems:
            raise SpecError(root / "systems", ["canonical.yaml (the hub's field catalog) is missing"])

    @property
    def canonical(self) -> SystemSpec:
        return self.systems[CANONICAL]

    def system(self, name: str) -> SystemSpec:
        key = self.aliases.get(name)
        if key is None:
            raise KeyError(name)
        return self.systems[key]

    def known_systems(self, kind: str | None = None) -> list[str]:
        return sorted(s.system for s in self.systems.values() if kind is None or s.kind == kind)

    def _spoke(self, source: str, destination: str) -> tuple[str, TemplateSpec]:
        for name, tpl in self.templates.items():
            if (
                not tpl.inbound
                and self.aliases.get(tpl.source) == source
                and self.aliases.get(tpl.destination) == destination
            ):
                return name, tpl
        raise KeyError(f"{source}_to_{destination}")

    def template_names(self) -> list[str]:
        """Every template that resolves: pair files plus every payroll x recordkeeper combination."""
        names = {n for n, t in self.templates.items() if t.inbound or t.outbound}
        for p in self.known_systems("payroll"):
            for r in self.known_systems("recordkeeper"):
                names.add(f"{self._short(p)}_to_{self._short(r)}")
        return sorted(names)

    def _short(self, system: str) -> str:
        spec = self.systems[system]
        return spec.aliases[0] if spec.aliases else spec.system

    def resolve(self, name: str, tenant: TenantSpec | None = None) -> ResolvedTemplate:
        """Both plans of a template, with pair and tenant overrides applied and checked."""
        pair = self.templates.get(name)
        files: list[str] = []
        if pair is not None and (pair.inbound or pair.outbound):
            files.append(str(self.template_paths[name]))
            src, dst = self._system_of(name, pair.source), self._system_of(name, pair.destination)
            in_name = pair.inbound or self._spoke(src.system, CANONICAL)[0]
            out_name = pair.outbound or self._spoke(CANONICAL, dst.system)[0]
            overrides = pair.overrides
        else:
            if "_to_" not in name:
                raise SpecError(
                    self.root / "templates", [f"unknown template '{name}'; known: " + ", ".join(self.template_names())]
                )
            a, b = name.split("_to_", 1)
            try:
                src, dst = self.system(a), self.system(b)
            except KeyError as exc:
                raise SpecError(
                    self.root / "templates",
                    [f"template '{name}': unknown system '{exc.args[0]}'; known: " + ", ".join(sorted(self.aliases))],
                ) from None
            try:
                in_name, out_name = self._spoke(src.system, CANONICAL)[0], self._spoke(CANONICAL, dst.system)[0]
            except KeyError as exc:
                raise SpecError(
                    self.root / "templates",
                    [
                        f"template '{name}': no spoke template '{exc.args[0]}' (payroll systems map to the "
                        "canonical model, the canonical model maps to recordkeepers)"
                    ],
                ) from None
            overrides = None
        inbound_tpl, outbound_tpl = self.templates[in_name], self.templates[out_name]
        files += [str(self.template_paths[in_name]), str(self.template_paths[out_name])]
        in_rules: dict[str, Rule] = dict(inbound_tpl.rules)
        out_rules: dict[str, Rule] = dict(outbound_tpl.rules)
        if overrides is not None:
            in_rules.update(overrides.inbound)
            out_rules.update(overrides.outbound)
        if tenant is not None:
            in_rules.update(tenant.overrides.inbound)
            out_rules.update(tenant.overrides.outbound)
        lookups = self.tenant_lookups(tenant) if tenant is not None else None
        try:
            inbound = build_plan(in_name, in_rules, src, self.canonical, lookups, rules_path=f"{in_name}.rules")
            outbound = build_plan(out_name, out_rules, self.canonical, dst, lookups, rules_path=f"{out_name}.rules")
        except PlanError as exc:
            raise SpecError(self.root / "templates", [str(exc)]) from None
        digest_src = json.dumps(
            {
                "in": {k: v.model_dump(mode="json") for k, v in in_rules.items()},
                "out": {k: v.model_dump(mode="json") for k, v in out_rules.items()},
                "systems": [src.model_dump(mode="json"), dst.model_dump(mode="json")],
                "lookups": lookups,
            },
            sort_keys=True,
            default=str,
        )
        return ResolvedTemplate(
            name=name,
            source=src,
            destination=dst,
            inbound=inbound,
            outbound=outbound,
            digest=hashlib.sha256(digest_src.encode()).hexdigest(),
            files=tuple(files),
        )

    def check_template(self, tpl: TemplateSpec, path: Path) -> None:
        """Plan a template file against the catalogs: every field, transform and formula is checked."""
        if tpl.inbound or tpl.outbound:
            self.resolve(tpl.template)
            return
        try:
            src, dst = self.system(tpl.source), self.system(tpl.destination)
        except KeyError as exc:
            raise SpecError(path, [f"unknown system '{exc.args[0]}'"]) from None
        try:
            build_plan(tpl.template, dict(tpl.rules), src, dst, None, rules_path=f"{tpl.template}.rules")
        except PlanError as exc:
            raise SpecError(path, [str(exc)]) from None

    def _system_of(self, template: str, name: str) -> SystemSpec:
        try:
            return self.system(name)
        except KeyError:
            raise SpecError(self.template_paths[template], [f"unknown system '{name}'"]) from None

    @staticmethod
    def tenant_lookups(tenant: TenantSpec) -> dict[str, dict[str, Any]]:
        """The tenant's lookup tables, plus `plan_ids` (plan code -> recordkeeper plan id) from its plans."""
        plan_ids = {p.plan_code: p.recordkeeper_plan_id or p.plan_code for p in tenant.plans}
        return {"plan_ids": plan_ids, **tenant.lookups}

    # ---- tenants ---------------------------------------------------------------------------------

    def load_tenant(self, path: Path) -> TenantSpec:
        tenant = load_model(path, TenantSpec)
        problems = []
        if tenant.slug != path.stem:
            problems.append(f"slug: '{tenant.slug}' must match the file name '{path.stem}'")
        for key, ref, kind in (
            ("payroll", tenant.payroll, "payroll"),
            ("recordkeeper", tenant.recordkeeper, "recordkeeper"),
        ):
            try:
                spec = self.system(ref.system)
            except KeyError:
                problems.append(
                    f"{key}.system: unknown system '{ref.system}'; known {kind} systems: "
                    + ", ".join(self.known_systems(kind))
                )
                continue
            if spec.kind != kind:
                problems.append(f"{key}.system: '{ref.system}' is a {spec.kind} system, not a {kind} system")
        codes = [p.plan_code for p in tenant.plans]
        if len(set(codes)) != len(codes):
            problems.append("plans: a plan_code appears twice")
        if not problems:
            try:
                resolved = self.resolve(tenant.template, tenant)
            except SpecError as exc:
                problems.extend(f"template: {p}" for p in exc.problems)
            else:
                if resolved.source.system != self.system(tenant.payroll.system).system:
                    problems.append(
                        f"template: '{tenant.template}' reads {resolved.source.system}, "
                        f"but payroll.system is {tenant.payroll.system}"
                    )
                if resolved.destination.system != self.system(tenant.recordkeeper.system).system:
                    problems.append(
                        f"template: '{tenant.template}' writes {resolved.destination.system}, "
                        f"but recordkeeper.system is {tenant.recordkeeper.system}"
                    )
        if problems:
            raise SpecError(path, problems)
        return tenant

    def load_tenants(self, directory: Path | None = None) -> dict[str, TenantSpec]:
        """Every tenant file; all problems of all files are reported together."""
        directory = directory or self.root / "tenants"
        tenants: dict[str, TenantSpec] = {}
        paths: dict[str, Path] = {}
        problems: list[str] = []
        for path in sorted(directory.glob("*.yaml")):
            try:
                tenant = self.load_tenant(path)
            except SpecError as exc:
                problems.append(str(exc))
                continue
            if tenant.slug in tenants:
                problems.append(f"{path}: slug: '{tenant.slug}' is also defined in {paths[tenant.slug]}")
                continue
            tenants[tenant.slug] = tenant
            paths[tenant.slug] = path
        if problems:
            raise SpecError(None, problems)
        return tenants


def tenant_digest(tenant: TenantSpec) -> str:
    return hashlib.sha256(json.dumps(tenant.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


_CATALOGS: dict[Path, SpecCatalog] = {}


def get_catalog(root: Path | None = None) -> SpecCatalog:
    """The catalog of the configured specs directory, loaded once per process."""
    if root is None:
        from synclinqs_pipelines.settings import get_settings

        root = get_settings().specs_dir
    if root not in _CATALOGS:
        _CATALOGS[root] = SpecCatalog(root)
    return _CATALOGS[root]
