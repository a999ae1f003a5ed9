"""The catalogue agrees with the ported tests: no container, no build, only the files."""

from __future__ import annotations

from .catalogue import STATUSES, ported_tests, read_catalogue


def test_every_row_is_well_formed_and_unique():
    rows = read_catalogue()
    seen = set()
    for row in rows:
        assert row.status in STATUSES, f"catalogue.tsv:{row.line}: unknown status {row.status!r}"
        assert row.function.startswith("test"), f"catalogue.tsv:{row.line}: {row.function}"
        assert row.function not in seen, f"catalogue.tsv:{row.line}: {row.function} listed twice"
        seen.add(row.function)
        if row.status == "n/a":
            assert row.reason, f"catalogue.tsv:{row.line}: n/a needs a reason"
        if row.status == "fails":
            assert row.reason, f"catalogue.tsv:{row.line}: fails needs a reason"
        if row.status in ("passes", "fails"):
            assert row.test, f"catalogue.tsv:{row.line}: {row.status} needs our test's name"
        else:
            assert not row.test, f"catalogue.tsv:{row.line}: {row.status} rows name no test"


def test_rows_match_the_ported_tests():
    tests = ported_tests()
    for row in read_catalogue():
        for name in row.tests:
            assert name in tests, f"catalogue.tsv:{row.line}: no test {name}"
        if row.status == "passes":
            xfail = [name for name in row.tests if tests[name]]
            assert not xfail, f"catalogue.tsv:{row.line}: {xfail} are xfail but the row says passes"
        elif row.status == "fails":
            assert any(tests[name] for name in row.tests), \
                f"catalogue.tsv:{row.line}: a fails row names an xfail(strict=True) test"


def test_every_ported_test_is_catalogued():
    named = {name for row in read_catalogue() for name in row.tests}
    missing = sorted(set(ported_tests()) - named)
    assert not missing, f"tests not in catalogue.tsv: {missing}"
