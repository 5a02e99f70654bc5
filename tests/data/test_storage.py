"""How the workspace reads and stores its rows: blank rows."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from cvm.data.readers import blank_row_sql

#: the cells of a blank row as the line-exact path reads them: white space (RE2's \s: tab, line
#: feed, form feed, carriage return, space), quotes and the delimiter, or nothing at all (NULL)
_CELLS = st.one_of(st.none(), st.text(alphabet=' \t\n\f\r";,!#a', max_size=4))


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(_CELLS, min_size=1, max_size=4), delimiter=st.sampled_from([",", ";"]))
def test_blank_row_sql_against_its_definition(cells, delimiter):
    # reference: a row is blank when each cell is NULL or made of white space, quotes and the delimiter only
    blank_chars = set(' \t\n\f\r"' + delimiter)
    expected = all(c is None or set(c) <= blank_chars for c in cells)
    fields = [f"f{i}" for i in range(len(cells))]
    con = duckdb.connect()
    select = ", ".join(f"CAST(? AS VARCHAR) AS {f}" for f in fields)
    got = con.execute(f"SELECT {blank_row_sql(fields, delimiter)} FROM (SELECT {select})", cells).fetchall()[0][0]
    assert got is expected
