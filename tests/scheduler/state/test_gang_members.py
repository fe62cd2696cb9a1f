"""`GangMembers`: the gang -> UIDs index the store keeps in step with its pods."""

from hypothesis import given
from hypothesis import strategies as st

from scheduler.policy.model import GangRef, PodRequest
from scheduler.state.gang_members import GangMembers

# (pod uid, its gang now: a name, or None for no gang, or "-" for deleted)
_EVENTS = st.lists(
    st.tuples(st.sampled_from("abcd"), st.sampled_from(["g1", "g2", None, "-"])), max_size=30
)


def _pod(uid: str, gang: str | None) -> PodRequest:
    return PodRequest(key=f"ns/{uid}", uid=uid, gpu=None,
                      gang=None if gang is None else GangRef(gang, 2))  # fmt: skip


@given(_EVENTS)
def test_each_gang_lists_exactly_its_current_pods_in_first_join_order(events):
    members, pods = GangMembers(), {}
    joined: dict[str, list[str]] = {}  # the expected order: when each pod joined its gang
    for uid, gang in events:
        old = pods.get(uid)
        new = None if gang == "-" else _pod(uid, gang)
        members.move(uid, old, new)
        was = old.gang.name if old is not None and old.gang is not None else None
        now = new.gang.name if new is not None and new.gang is not None else None
        if was != now:
            if was is not None:
                joined[was].remove(uid)
            if now is not None:
                joined.setdefault(now, []).append(uid)
        if new is None:
            pods.pop(uid, None)
        else:
            pods[uid] = new
    assert members.gangs() == {g: us for g, us in joined.items() if us}
    for g, us in joined.items():
        assert list(members.uids(g)) == us
