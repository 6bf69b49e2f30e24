"""The portfolio commands as an operator runs them: import, segments, campaign, debtor
show (masked, or revealed with an audit row), keys rotate, explain."""

from __future__ import annotations

import json

import pytest

from tests.integration.labkit import cli_runner

HEADER = ("external_id,name,phone,amount_due,overdue_days,on_time_ratio,broken_promises,"
          "credit_rating,timezone,branch\n")
ROWS = [
    "P-1,王小明,13800001111,800.00,3,0.95,0,A,Asia/Shanghai,=HYPERLINK(\"x\")\n",
    "P-2,李四,+8613800002222,2400.00,20,0.5,1,B,Asia/Shanghai,north\n",
    "P-3,张三,13800003333,650.00,60,,1,B,,south\n",
    "P-4,赵六,13800004444,62000.00,120,0.2,1,D,Asia/Shanghai,east\n",
    "P-5,陈七,13800005555,3000.00,150,0.1,4,D,Asia/Shanghai,west\n",
    "P-6,错号码,12345,100.00,5,,0,,Asia/Shanghai,\n",
    "P-7,负金额,13800007777,-5,5,,0,,Asia/Shanghai,\n",
]


@pytest.fixture
def huilong(call_db, tmp_path):
    return cli_runner(call_db[0], tmp_path)


async def test_import_segment_campaign_and_explain(huilong, pool, tmp_path):
    """Steps: import a UTF-8-with-BOM file of 7 rows (2 bad), import it again, list
    segments, create a campaign over two segments, explain one debtor.
    Expected: 5 new and 2 rejected (rejects file names row and field), then 5 unchanged;
    segments assigned by the shipped rules; the campaign targets the debtors of those
    segments; explain prints per-number decisions with masked numbers only."""
    portfolio = tmp_path / "overdue.csv"
    portfolio.write_text("\ufeff" + HEADER + "".join(ROWS), encoding="utf-8")
    first = await huilong("import", "debtors", str(portfolio))
    assert first.returncode == 0, first.stderr
    assert "5 new, 0 updated, 0 unchanged, 2 rejected" in first.stdout
    rejects = (tmp_path / "overdue.csv.rejects.csv").read_text(encoding="utf-8")
    assert "phone" in rejects and "amount_due" in rejects and "P-6" in rejects
    assert "early_reliable" in first.stdout and "late_large_or_repeated" in first.stdout

    again = await huilong("import", "debtors", str(portfolio))
    assert "0 new, 0 updated, 5 unchanged, 2 rejected" in again.stdout

    segments = await pool.fetch("SELECT external_id, segment FROM debtors ORDER BY 1")
    assert dict((r["external_id"], r["segment"]) for r in segments) == {
        "P-1": "early_reliable", "P-2": "early", "P-3": "mid_small",
        "P-4": "late_large_or_repeated", "P-5": "late_large_or_repeated"}
    branch = await pool.fetchval("SELECT attributes->>'branch' FROM debtors "
                                 "WHERE external_id = 'P-1'")
    assert branch.startswith("'=")  # a formula stored inert

    created = await huilong("campaign", "create", "autumn", "--segments",
                            "early,late_large_or_repeated")
    assert created.returncode == 0, created.stderr
    assert ": 3 debtors from early, late_large_or_repeated" in created.stdout
    campaign_id = await pool.fetchval("SELECT id FROM campaigns WHERE name = 'autumn'")
    for name, extra, wanted in (("bot-run", ["--script", "zh"], {"script": "zh"}),
                                ("desk-run", ["--agents", "--pacing", "huilong"],
                                 {"agents": True, "pacing": "huilong"}),
                                ("desk-amd", ["--agents", "--amd"], {"agents": True, "amd": True})):
        made = await huilong("campaign", "create", name, "--segments", "early", *extra)
        assert made.returncode == 0, made.stderr
        stored = json.loads(await pool.fetchval(
            "SELECT settings FROM campaigns WHERE name = $1", name))
        assert {k: stored.get(k) for k in wanted} == wanted
    both = await huilong("campaign", "create", "x", "--segments", "early", "--agents",
                         "--script", "zh")
    assert both.returncode == 2 and "not allowed with" in both.stderr
    amd_alone = await huilong("campaign", "create", "y", "--segments", "early", "--amd")
    assert amd_alone.returncode == 2 and "--amd is for agent campaigns" in amd_alone.stderr
    assert await pool.fetchval("SELECT count(*) FROM campaigns WHERE name = 'y'") == 0

    shown = await huilong("explain", "P-2", "--campaign", str(campaign_id))
    assert shown.returncode == 0, shown.stderr
    assert "segment early" in shown.stdout and "+86138****2222" in shown.stdout
    assert ("allowed" in shown.stdout) or ("denied" in shown.stdout)
    assert "13800002222" not in shown.stdout


async def test_unreadable_file_exits_2_and_writes_nothing(huilong, pool, tmp_path):
    """Steps: import a file without the required columns, then one that is not text.
    Expected: exit code 2 with a message saying why; no debtor stored."""
    headless = tmp_path / "headless.csv"
    headless.write_text("foo,bar\n1,2\n", encoding="utf-8")
    result = await huilong("import", "debtors", str(headless))
    assert result.returncode == 2
    assert "external_id" in result.stderr and "Traceback" not in result.stderr
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\xff\xfe\x00\x81\x00" * 100)
    result = await huilong("import", "debtors", str(garbage))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert await pool.fetchval("SELECT count(*) FROM debtors") == 0


async def test_reveal_is_audited_and_survives_key_rotation(huilong, pool, tmp_path):
    """Steps: import one debtor; show it; try to reveal the phone without a reason; reveal
    it with a reason; rotate the keys; reveal the name.
    Expected: masked by default; no reason → exit 2 and no audit row; each reveal
    prints the clear value and writes one audit row with the reason; after rotation
    every value is under the new key and still decrypts."""
    portfolio = tmp_path / "one.csv"
    portfolio.write_text(HEADER + ROWS[1], encoding="utf-8")
    assert (await huilong("import", "debtors", str(portfolio))).returncode == 0

    masked = await huilong("debtor", "show", "P-2")
    assert "+86138****2222" in masked.stdout and "13800002222" not in masked.stdout
    refused = await huilong("debtor", "show", "P-2", "--reveal", "phone")
    assert refused.returncode == 2
    assert await pool.fetchval("SELECT count(*) FROM pii_audit") == 0

    revealed = await huilong("debtor", "show", "P-2", "--reveal", "phone", "--reason",
                             "debtor asked to confirm the number on file")
    assert revealed.returncode == 0, revealed.stderr
    assert "phone: +8613800002222" in revealed.stdout
    audit = await pool.fetch("SELECT actor, field, reason FROM pii_audit")
    assert [(r["field"], r["reason"]) for r in audit] == [
        ("phone", "debtor asked to confirm the number on file")]
    assert audit[0]["actor"].startswith("cli:")

    rotated = await huilong("keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "values re-encrypted" in rotated.stdout
    keys = await pool.fetch("SELECT DISTINCT name_key_id FROM debtors UNION "
                            "SELECT DISTINCT key_id FROM debtor_phones")
    assert len(keys) == 1
    name = await huilong("debtor", "show", "P-2", "--reveal", "name", "--reason", "letter")
    assert "name: 李四" in name.stdout
    assert await pool.fetchval("SELECT count(*) FROM pii_audit") == 2


async def test_campaign_retry_rules_and_requeue(huilong, pool, tmp_path):
    """Steps: create campaigns with `--retry standard`, with a TOML rules file, with a
    broken rules file, with an unknown `--on-broken` campaign; run `promises requeue`.
    Expected: the rules are stored in the campaign's settings (the file's as written);
    the bad file and the unknown campaign exit 2 naming the file and field / the id, and
    create nothing, and so does a `--remind-in` campaign that does not exist; requeue
    reports what it did (nothing here)."""
    portfolio = tmp_path / "overdue.csv"
    portfolio.write_text(HEADER + "".join(ROWS[:5]), encoding="utf-8")
    assert (await huilong("import", "debtors", str(portfolio))).returncode == 0
    standard = await huilong("campaign", "create", "std", "--segments", "early_reliable",
                             "--retry", "standard")
    assert standard.returncode == 0, standard.stderr
    rules = tmp_path / "retry.toml"
    rules.write_text('[retry]\nslots = ["09:00-12:00", "18:00-21:00"]\n'
                     'busy = { delay_min = 15, max = 2 }\n', encoding="utf-8")
    own = await huilong("campaign", "create", "own", "--segments", "early_reliable",
                        "--retry", str(rules), "--on-broken", "1", "--remind-in", "1")
    assert own.returncode == 0, own.stderr
    stored = {r["name"]: json.loads(r["settings"]) for r in await pool.fetch(
        "SELECT name, settings FROM campaigns")}
    assert stored["std"]["retry"]["no_answer"] == {"delay_min": 120, "max": 4}
    assert stored["own"]["retry"] == {"slots": ["09:00-12:00", "18:00-21:00"],
                                      "busy": {"delay_min": 15, "max": 2}}
    assert (stored["own"]["on_broken"], stored["own"]["remind_in"]) == ([1], 1)

    rules.write_text('[retry]\nbusy = { delay_min = 15, max = "two" }\n', encoding="utf-8")
    bad = await huilong("campaign", "create", "bad", "--segments", "early_reliable",
                        "--retry", str(rules))
    assert bad.returncode == 2
    assert f"--retry {rules}: retry.busy.max: a whole number" in bad.stderr
    unknown = await huilong("campaign", "create", "bad", "--segments", "early_reliable",
                            "--on-broken", "1,99")
    assert unknown.returncode == 2 and "--on-broken: no campaign 99" in unknown.stderr
    nowhere = await huilong("campaign", "create", "bad", "--segments", "early_reliable",
                            "--remind-in", "42")
    assert nowhere.returncode == 2 and "--remind-in: no campaign 42" in nowhere.stderr
    assert "Traceback" not in bad.stderr + unknown.stderr + nowhere.stderr
    assert await pool.fetchval("SELECT count(*) FROM campaigns") == 2

    requeued = await huilong("promises", "requeue", "--at", "2026-12-01T10:00+08:00")
    assert requeued.returncode == 0, requeued.stderr
    assert "re-queued: 0 callbacks, 0 broken or partly kept promises" in requeued.stdout
