"""test_decoding's lines parsed in Python (data_copy/capture/change_lines.py), pure logic:
the keys every kind of change touched, read token by token or by position."""

from data_copy.capture.change_lines import Table, parse, prefixes, table_of

T = Table("s.t", "id", 'table s."t": ', "id")
LEAD = Table("s.lead", "id", "table s.lead: ", "id", leading=True)
QUOTED = Table("s.q", "Code", "table s.q: ", '"Code"')


def keys(t: Table, rest: str) -> tuple[str, tuple[str | None, ...]] | None:
    change = parse(t, rest)
    return None if change is None else (change.op, change.keys)


def test_a_value_that_looks_like_a_key_is_never_read_as_one() -> None:
    rest = "INSERT: note[text]:'x'' id[integer]:999 y' id[integer]:5 tags[text[]]:'{\"a b\",c]}'"
    assert keys(T, rest) == ("I", ("5",))


def test_an_update_that_changes_the_key_gives_the_old_key_first_then_the_new() -> None:
    rest = "UPDATE: old-key: id[integer]:5 new-tuple: note[text]:'new-tuple: id[integer]:1' id[integer]:7"
    assert keys(T, rest) == ("U", ("5", "7"))


def test_deletes_and_truncates() -> None:
    assert keys(T, "DELETE: id[integer]:6") == ("D", ("6",))
    assert keys(T, "DELETE: (no-tuple-data)") == ("D", (None,))  # no replica identity: no key
    assert keys(T, "TRUNCATE: restart_seqs") == ("T", ())
    assert keys(T, "MESSAGE: something") is None


def test_quoted_names_and_values_in_every_spelling() -> None:
    assert keys(QUOTED, "INSERT: \"Code\"[character varying]:'a''b c]:' v[text]:null") == ("I", ("a'b c]:",))
    assert keys(QUOTED, 'INSERT: "Code"[character varying]:null') == ("I", (None,))
    assert keys(T, "INSERT: id[integer]:null") == ("I", (None,))


def test_a_leading_integer_key_is_read_by_position_and_its_odd_shapes_by_the_scan() -> None:
    assert keys(LEAD, "INSERT: id[integer]:-4 note[text]:'new-tuple: id[integer]:3 x'") == ("I", ("-4",))
    assert keys(LEAD, "UPDATE: old-key: id[integer]:5 new-tuple: id[integer]:7 note[text]:'x'") == ("U", ("5", "7"))
    # replica identity FULL prints every old column: not the leading shape, so the scan reads it
    full = "UPDATE: old-key: id[integer]:1 v[text]:'id[integer]:2' new-tuple: id[integer]:9 v[text]:'y'"
    assert keys(LEAD, full) == ("U", ("1", "9"))


def test_lines_meet_their_table_by_its_printed_prefix() -> None:
    by_prefix = prefixes([T, LEAD])
    assert table_of('table s."t": INSERT: id[integer]:1', by_prefix) == (T, "INSERT: id[integer]:1")
    assert table_of("table s.lead: DELETE: id[integer]:2", by_prefix) == (LEAD, "DELETE: id[integer]:2")
    assert table_of("table s.other: INSERT: id[integer]:1", by_prefix) is None
    assert table_of("BEGIN 1234", by_prefix) is None
