"""Every ecosystem's lock file and manifest parser, on the planted fixtures and on hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.security_scan.lock_java_ops import parse_gradle_lockfile, parse_pom
from servers.security_scan.lock_js_ops import parse_package_lock, parse_pnpm_lock, parse_yarn_lock
from servers.security_scan.lock_misc_ops import (
    parse_cargo_lock,
    parse_composer_lock,
    parse_gemfile_lock,
    parse_go_mod,
    parse_go_sum,
)
from servers.security_scan.manifest_ops import parser_for
from shared.errors import InvalidArgument

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ecosystems" / "vulnerable"


def _read(rel: str) -> str:
    return (FIXTURES / rel).read_text()


def _pins(deps: list) -> set[tuple[str, str, str | None]]:  # type: ignore[type-arg]
    return {(d.ecosystem, d.name, d.version) for d in deps}


def test_package_lock_v3_skips_links_and_workspaces_and_keeps_licences() -> None:
    deps = parse_package_lock(_read("npm/package-lock.json"), "package-lock.json")
    assert _pins(deps) == {
        ("npm", "lodash", "4.17.20"),
        ("npm", "minimist", "1.2.5"),
        ("npm", "left-pad", "1.3.0"),
    }
    assert {d.name: d.license for d in deps}["left-pad"] == "WTFPL"
    assert {d.name: d.line for d in deps}["lodash"] == 8


def test_package_lock_v1_nested_dependencies() -> None:
    text = '{"lockfileVersion": 1, "dependencies": {"a": {"version": "1.0.0", "dependencies": {"b": {"version": "2.0.0"}}}, "g": {"version": "git+https://x/y.git"}}}'  # noqa: E501
    assert _pins(parse_package_lock(text, "package-lock.json")) == {
        ("npm", "a", "1.0.0"),
        ("npm", "b", "2.0.0"),
    }


def test_yarn_classic_and_berry() -> None:
    classic = parse_yarn_lock(_read("yarn-classic/yarn.lock"), "yarn.lock")
    assert _pins(classic) == {
        ("npm", "lodash", "4.17.19"),
        ("npm", "@babel/code-frame", "7.12.13"),
        ("npm", "minimist", "1.2.8"),
    }
    berry = parse_yarn_lock(_read("yarn-berry/yarn.lock"), "yarn.lock")
    assert _pins(berry) == {
        ("npm", "lodash", "4.17.15"),
        ("npm", "minimist", "1.2.0"),
    }  # the workspace is left out


def test_pnpm_v9_and_v5_keys() -> None:
    deps = parse_pnpm_lock(_read("pnpm/pnpm-lock.yaml"), "pnpm-lock.yaml")
    assert _pins(deps) == {
        ("npm", "lodash", "4.17.20"),
        ("npm", "minimist", "0.2.1"),
        ("npm", "@babel/core", "7.24.0"),
    }
    v5 = "lockfileVersion: 5.4\npackages:\n  /@scope/pkg/1.2.3_react@18.0.0:\n    resolution: {}\n  /ms/2.1.2:\n    dev: false\n"  # noqa: E501
    assert _pins(parse_pnpm_lock(v5, "pnpm-lock.yaml")) == {
        ("npm", "@scope/pkg", "1.2.3"),
        ("npm", "ms", "2.1.2"),
    }


def test_yaml_locks_refuse_alias_bombs() -> None:
    bomb = (
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefg", "bcdefgh", strict=True)
        )
        + "packages: *h\n"
    )
    with pytest.raises(InvalidArgument):
        parse_pnpm_lock(bomb, "pnpm-lock.yaml")


def test_go_mod_requires_replacements_and_go_sum_fallback() -> None:
    deps = parse_go_mod(_read("go/go.mod"), "go.mod")
    assert _pins(deps) == {("Go", "golang.org/x/net", "v0.6.0"), ("Go", "golang.org/x/text", "v0.7.0")}
    replaced = parse_go_mod(
        "module m\nrequire a.example/x v1.0.0\nreplace a.example/x => b.example/x v1.2.0\n", "go.mod"
    )
    assert _pins(replaced) == {("Go", "b.example/x", "v1.2.0")}
    summed = parse_go_sum(_read("go-sum/go.sum"), "go.sum")  # only hashed sources count: not v0.9.0/go.mod
    assert _pins(summed) == {("Go", "golang.org/x/net", "v0.0.0-20220722155237-a158d28d115b")}


def test_cargo_lock_keeps_registry_crates_only() -> None:
    deps = parse_cargo_lock(_read("rust/Cargo.lock"), "Cargo.lock")
    assert _pins(deps) == {("crates.io", "regex", "1.5.4"), ("crates.io", "serde", "1.0.130")}


def test_pom_resolves_properties_and_managed_versions() -> None:
    deps = parse_pom(_read("maven/pom.xml"), "pom.xml")
    assert _pins(deps) == {
        ("Maven", "org.apache.logging.log4j:log4j-core", "2.14.1"),
        ("Maven", "com.google.guava:guava", "32.0.0-jre"),
        ("Maven", "org.example:from-parent", None),
    }


@pytest.mark.parametrize(
    "hostile",
    [
        '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><project>&b;</project>',  # noqa: E501
        '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><project>&x;</project>',
    ],
)
def test_pom_refuses_entities_and_dtds(hostile: str) -> None:
    from defusedxml import DefusedXmlException  # type: ignore[import-untyped]

    with pytest.raises((DefusedXmlException, ValueError)):
        parse_pom(hostile, "pom.xml")


def test_gradle_gemfile_and_composer() -> None:
    assert ("Maven", "org.apache.logging.log4j:log4j-core", "2.14.1") in _pins(
        parse_gradle_lockfile(_read("gradle/gradle.lockfile"), "gradle.lockfile")
    )
    gems = parse_gemfile_lock(_read("ruby/Gemfile.lock"), "Gemfile.lock")
    assert _pins(gems) == {
        ("RubyGems", "nokogiri", "1.13.10"),
        ("RubyGems", "racc", "1.6.2"),
        ("RubyGems", "rack", "2.2.3"),
    }
    php = parse_composer_lock(_read("php/composer.lock"), "composer.lock")
    assert _pins(php) == {
        ("Packagist", "symfony/http-kernel", "v5.4.19"),
        ("Packagist", "monolog/monolog", "2.9.1"),
    }
    assert {d.license for d in php} == {"MIT"}


@pytest.mark.parametrize(
    ("name", "parser"),
    [
        ("yarn.lock", parse_yarn_lock),
        ("Cargo.lock", parse_cargo_lock),
        ("gradle.lockfile", parse_gradle_lockfile),
        ("compileClasspath.lockfile", parse_gradle_lockfile),
        ("pom.xml", parse_pom),
    ],
)
def test_parser_for(name: str, parser: object) -> None:
    assert parser_for(name) is parser
