"""Pure pieces: cron conversion, deterministic ids, Metaflow's input-path encodings."""
import pytest

from metaflow_extensions.orchestrators.plugins.plan import PlanError
from metaflow_extensions.orchestrators.plugins.plan.schedule import to_five_field_cron, to_schedule
from metaflow_extensions.orchestrators.plugins.runtime import ids, pathspecs


@pytest.mark.parametrize("source,cron", [
    ("0 0 ? * SUN *", "0 0 * * SUN"),      # @schedule(weekly=True)
    ("0 * * * ? *", "0 * * * *"),          # hourly
    ("0 0 * * ? *", "0 0 * * *"),          # daily
    ("0 6 ? * 2-6 *", "0 6 * * 1-5"),      # EventBridge numbers Sunday 1, cron 0
    ("0 6 ? * 1,7 *", "0 6 * * 0,6"),
    ("0 6 ? * 2#1 *", "0 6 * * 1#1"),      # nth weekday: only the day shifts
    ("*/5 * * * *", "*/5 * * * *"),        # already 5 fields
])
def test_cron_conversion(source, cron):
    assert to_five_field_cron(source) == cron


@pytest.mark.parametrize("bad", ["0 0 * * ? 2027", "0 0 *", "99 0 * * ? *"])
def test_cron_conversion_rejects_what_cron_cannot_express(bad):
    with pytest.raises(PlanError):
        to_schedule(bad, None)


def test_task_ids_are_deterministic_and_metaflow_safe():
    assert ids.task_id() == "t"
    assert ids.task_id((2, 0)) == "t-2-0"
    assert ids.task_id((1,), 3) == "t-1-r3"
    for tid in (ids.task_id((1, 2, 3), 4), ids.PARAMS_TASK_ID):
        assert not tid.isdigit() and not set(tid) & set("/,:!")


def test_run_ids_keep_safe_execution_ids_and_hash_the_rest():
    assert ids.run_id("kestra", "4Xz9aB") == "kestra-4Xz9aB"
    hashed = ids.run_id("windmill", "a/b:c,d!")
    assert hashed.startswith("windmill-") and not set(hashed) & set("/,:!")
    assert hashed == ids.run_id("windmill", "a/b:c,d!")


def test_index_path_parsing():
    assert ids.parse_index_path("2.0") == (2, 0)
    assert ids.parse_index_path("[2, 0]") == (2, 0)
    assert ids.parse_index_path("") == () and ids.parse_index_path(None) == ()
    assert ids.position_key("sw", (1, 2)) == "sw@1.2" and ids.position_key("sw") == "sw"


@pytest.mark.parametrize("paths", [
    ["r/start/t"],
    ["r/a/t", "r/b/t"],
    ["r/body/t-%d" % i for i in range(3)],
    ["r/body/t-%d-%d" % (i, j) for i in range(30) for j in range(10)],  # past 500 chars: zlib form
])
def test_input_path_encoding_equals_metaflows_own(paths):
    from metaflow.util import compress_list, decompress_list

    assert pathspecs.compress(paths) == compress_list(paths)
    assert decompress_list(pathspecs.compress(paths)) == paths
    assert pathspecs.decompress(compress_list(paths)) == paths


def test_input_path_encoding_refuses_delimiters():
    with pytest.raises(ValueError):
        pathspecs.compress(["r/a/t,1", "r/b/t"])


def test_kestra_flow_ids_never_collide_and_bad_names_are_refused():
    from metaflow_extensions.orchestrators.plugins.kestra.naming import check_flow_name, flow_id

    names = ["a;b", "a b", "a-b", "a/b", "a\u00e9b", "A;B"]
    ids = [flow_id(n) for n in names]
    assert len(set(ids)) == len(names) and ids[2] == "a-b"
    assert check_flow_name("proj.main.My_Flow-2") == "proj.main.My_Flow-2"
    for bad in ("a;b", "a b", "-x", "", "kill", "x" * 101):
        with pytest.raises(ValueError, match="is not a Kestra flow id"):
            check_flow_name(bad)
