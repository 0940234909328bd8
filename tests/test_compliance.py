"""Compliance guard: superlatives and guarantees repaired, over-limit discounts and
competitor disparagement blocked, PII replaced; bilingual, case- and width-insensitive."""

from __future__ import annotations

import pytest

import agents._compliance
from agents import RULES, ComplianceGuard, GuardResult, Rule
from copilot._models import ComplianceVerdict

BASIS = {
    "ad-law-superlative": "《广告法》第九条",
    "guarantee": "《广告法》第四条",
    "discount-over-limit": "《价格授权制度》",
    "competitor-disparagement": "《反不正当竞争法》第十一条",
    "pii": "《个人信息保护法》第十三条",
}
GUARD = ComplianceGuard(competitor_names=["极光数仓", "AuroraDW"])


def check(text: str, guard: ComplianceGuard = GUARD) -> GuardResult:
    return guard.check("suggestion[0]", text)


def rules_of(result: GuardResult) -> list[str]:
    return [v.rule for v in result.verdicts]


def assert_passes(text: str, guard: ComplianceGuard = GUARD) -> None:
    result = check(text, guard)
    assert result.text == text
    assert result.verdicts == []


def assert_blocked(text: str, rule: str, guard: ComplianceGuard = GUARD) -> ComplianceVerdict:
    result = check(text, guard)
    assert result.text is None
    assert rules_of(result) == [rule]
    return result.verdicts[0]


# --- the rule table ----------------------------------------------------------------------


def test_rule_ids_are_the_contract() -> None:
    assert [rule.id for rule in RULES] == list(BASIS)


def test_rule_basis_and_action() -> None:
    assert {rule.id: rule.basis for rule in RULES} == BASIS
    blocked = {rule.id for rule in RULES if rule.action == "blocked"}
    assert blocked == {"discount-over-limit", "competitor-disparagement"}
    assert all(isinstance(rule, Rule) and rule.description for rule in RULES)


def test_module_exports() -> None:
    assert set(agents._compliance.__all__) == {"RULES", "ComplianceGuard", "GuardResult", "Rule"}


# --- 《广告法》第九条: absolute claims ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "repaired"),
    [
        ("我们的产品是行业第一，也是最好的选择。", "我们的产品是行业领先，也是优秀的选择。"),
        ("我们排名第一，服务最好。", "我们排名领先，服务很好。"),
        ("我们是国内唯一通过认证的厂商。", "我们是国内少有的通过认证的厂商。"),
        ("国内最大的MES厂商", "国内主要的MES厂商"),
        ("最佳方案是分阶段上线。", "理想方案是分阶段上线。"),
        (
            "最稳定、最好用的系统，极致体验，顶级配置，最低价格。",
            "非常稳定、非常好用的系统，出色体验，高端配置，优惠价格。",
        ),
        ("拥有世界级团队和独家技术，是您的首选。", "拥有高水准团队和专属技术，是您的优选。"),
        ("我们是国家级高新技术企业。", "我们是高新技术企业。"),
        ("最优方案，最强性能，最先进的架构。", "更优方案，强大性能，先进的架构。"),
        ("我们是行业NO.1", "我们是行业领先"),
        ("我们是业内第一家通过等保三级的厂商。", "我们是业内较早通过等保三级的厂商。"),
        ("第一个获得该认证的MES厂商", "较早获得该认证的MES厂商"),
        ("行业第一家通过信创适配。", "行业较早通过信创适配。"),
        ("我们是国内第一家MES厂商。", "我们是国内较早一批MES厂商。"),
        ("This is the best choice for you.", "This is a strong choice for you."),
        ("The best choice is MES Cloud.", "A strong choice is MES Cloud."),
        ("We are the best.", "We are strong."),
        ("We are the No. 1 MES vendor and #1 in China.", "We are a leading MES vendor and leading in China."),
        ("Number one in Asia.", "Leading in Asia."),
        ("We are the only vendor with offline mode.", "We are a vendor with offline mode."),
        ("It is the only integrated suite.", "It is an integrated suite."),
        ("We are the only one that offers this.", "We are one of the few that offers this."),
        ("world-leading technology", "advanced technology"),
        ("industry-leading uptime, top-rated support", "competitive uptime, highly rated support"),
        ("an unbeatable price", "a competitive price"),
        ("the cheapest option", "a cost-effective option"),
        ("best-in-class support", "high-quality support"),
        ("the most advanced platform", "an advanced platform"),
    ],
)
def test_superlatives_are_repaired(text: str, repaired: str) -> None:
    result = check(text)
    assert result.text == repaired
    assert rules_of(result) == ["ad-law-superlative"]


@pytest.mark.parametrize(
    "text",
    [
        "最近我们上线了新功能，最后一步是验收。",
        "最终方案以合同为准，最多只能提供两个试用名额。",
        "第一次试用免费，第一步是数据对接。",
        "第一阶段先做试点，第一期三个月。",
        "第一，我们先做调研；第二，安排演示。",
        "第一家门店上线后再推广到全部门店。",
        "第一家客户是华东精工，第一个问题是预算。",
        "唯一的办法是先做试点，唯一需要确认的是预算。",
        "每台设备有唯一标识。",
        "您最好先和财务确认一下。",
        "最好能在周五前确认。",
        "按最佳实践分阶段上线。",
        "我们最大的优势是交付快，可以最大程度降低停机。",
        "将风险降到最低。",
        "Best regards, Wang",
        "We'll do our best to help. What's the best time to talk?",
        "The best way to start is a pilot.",
        "Our number one priority is uptime.",
        "Option #1: a pilot.",
        "The only thing we need is your sign-off.",
        "We're not the only option, but we fit your stack.",
        "Our bestselling module is MES.",
        "最近的案例：效率提升 15%。",
    ],
)
def test_superlative_false_positives_pass(text: str) -> None:
    assert_passes(text)


@pytest.mark.parametrize(
    ("text", "repaired"),
    [
        ("ＢＥＳＴ", "STRONG"),
        ("Best", "Strong"),
        ("BEST choice", "STRONG choice"),
        ("We are the ＢＥＳＴ.", "We are strong."),
        ("ＮＯ．１的产品", "领先的产品"),
        ("Ｗｏｒｌｄ-Ｌｅａｄｉｎｇ tech", "Advanced tech"),
    ],
)
def test_full_width_and_case_variants(text: str, repaired: str) -> None:
    result = check(text)
    assert result.text == repaired
    assert rules_of(result) == ["ad-law-superlative"]


def test_repair_keeps_the_original_text_around_full_width_matches() -> None:
    text = "（ＡＢＣ）公司：ﬁｎｅ，我们是最好的！Ｔｈｅ ＢＥＳＴ！"
    assert check(text).text == "（ＡＢＣ）公司：ﬁｎｅ，我们是优秀的！Strong！"


def test_verdict_detail_names_the_terms() -> None:
    (verdict,) = check("我们是行业第一，最好的方案。").verdicts
    assert verdict == ComplianceVerdict(
        target="suggestion[0]",
        rule="ad-law-superlative",
        basis="《广告法》第九条",
        action="repaired",
        detail='"行业第一" → "行业领先"; "最好" → "优秀"',
    )


# --- 《广告法》第四条: guarantees ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "repaired"),
    [
        ("我们保证30天上线。", "我们力争30天上线。"),
        ("确保百分之百成功。", "力争成功。"),
        ("100%满意，绝对安全，零风险，稳赚不赔。", "高度满意，非常安全，低风险，有望获益。"),
        ("成功率100%。", "成功率很高。"),
        ("绝对不会出问题，万无一失。", "基本不会出问题，稳妥可靠。"),
        ("We guarantee 99.9% uptime.", "We aim to ensure 99.9% uptime."),
        ("It guarantees that data stays local.", "It aims to ensure that data stays local."),
        ("We guarantee to deliver in May.", "We aim to deliver in May."),
        ("Results are guaranteed.", "Results are expected."),
        ("A money-back guarantee applies.", "A money-back commitment applies."),
        ("We can provide a bank guarantee.", "We can provide a bank commitment."),
        ("It is risk-free, zero risk, and never fails.", "It is low-risk, low risk, and rarely fails."),
        ("100% secure, with 100% uptime.", "Highly secure, with high uptime."),
        ("Zero-downtime migration.", "Minimal-downtime migration."),
        ("ＧＵＡＲＡＮＴＥＥＤ results", "EXPECTED results"),
    ],
)
def test_guarantees_are_repaired(text: str, repaired: str) -> None:
    result = check(text)
    assert result.text == repaired
    assert rules_of(result) == ["guarantee"]


@pytest.mark.parametrize(
    "text",
    [
        "履约保证金为合同金额的5%。",
        "质量保证体系通过了 ISO 9001 认证。",
        "效率提升 15%，库存周转提升 30%。",
        "良率从 97.5% 提升到 99.2%。",
        "Uptime was 99.95% last year.",
        "We improved throughput by 1100 units.",
        "吞吐提升 1100%，成本降到 0.100% 以下。",
        "请确保数据已备份。",
    ],
)
def test_guarantee_false_positives_pass(text: str) -> None:
    assert_passes(text)


def test_repairs_from_both_rules_are_reported_in_rule_order() -> None:
    result = check("我们保证是最好的。")
    assert result.text == "我们力争是优秀的。"
    assert rules_of(result) == ["ad-law-superlative", "guarantee"]
    assert [v.action for v in result.verdicts] == ["repaired", "repaired"]


# --- the deployment's pricing policy (《价格授权制度》 by default): discounts ----------------------


@pytest.mark.parametrize(
    ("text", "percent"),
    [
        ("可以给您打五折。", "50"),
        ("打七五折", "25"),
        ("8折", "20"),
        ("75折", "25"),
        ("打八点五折再送服务", None),
        ("可以优惠30%", "30"),
        ("降价 30%", "30"),
        ("比原价便宜30%", "30"),
        ("给您30%的折扣", "30"),
        ("优惠百分之三十", "30"),
        ("半价", "50"),
        ("We can do 30% off.", "30"),
        ("a 20% discount this quarter", "20"),
        ("a discount of 25%", "25"),
        ("We can reduce the price by 20%.", "20"),
        ("Ｗｅ ｃａｎ ｄｏ ３０％ ＯＦＦ", "30"),
        # stacked: 0.85 × 0.95 = 0.8075 of the price
        ("八五折以后再降5%", "19.25"),
        ("在八五折的基础上，再优惠百分之五", "19.25"),
        ("85折后再打9.5折", "19.25"),
        ("八五折以后价格再让5个点", "19.25"),
        ("打八五折，另外额外给5%的折扣", "19.25"),
        ("九折，再九折", "19"),
        ("We can do 15% off, plus an additional 5% off.", "19.25"),
    ],
)
def test_discounts_over_the_limit_are_blocked(text: str, percent: str | None) -> None:
    if percent is None:  # 八点五折 is 15% off: at the limit, allowed
        assert_passes(text)
        return
    verdict = assert_blocked(text, "discount-over-limit")
    assert f"is {percent}% off" in verdict.detail
    assert "the limit is 15%" in verdict.detail


@pytest.mark.parametrize(
    "text",
    [
        "九折",
        "八五折",
        "9.5折",
        "8.5折",
        "85折",
        "优惠10%",
        "10% off",
        "15% off",
        "a discount of 15%",
        "无法给到五折，最多九折。",
        "We cannot offer 30% off, but 10% off is possible.",
        "设备按 3 年折旧。",
        "节省 30% 的运维成本。",
        "Save 40% of integration time.",
        "九折后再打九五折",  # 0.9 × 0.95: 14.5% off
        "优惠10%，再降5%",
        "八五折，不能再降5%了。",
        "八五折，再送5%的服务时长。",
        "打九折，再降低20%的运维成本。",
    ],
)
def test_allowed_discounts_and_refusals_pass(text: str) -> None:
    assert_passes(text)


def test_discount_limit_is_configurable() -> None:
    generous = ComplianceGuard(max_discount_percent=30)
    assert_passes("打七折", generous)
    assert_blocked("打六折", "discount-over-limit", generous)
    strict = ComplianceGuard(max_discount_percent=5)
    assert_blocked("九折", "discount-over-limit", strict)


def test_stacked_discounts_at_and_over_the_limit() -> None:
    assert_passes("八五折以后再降5%", ComplianceGuard(max_discount_percent=19.25))
    assert_blocked("八五折以后再降6%", "discount-over-limit", ComplianceGuard(max_discount_percent=19.25))
    assert_passes("八折后再打九折", ComplianceGuard(max_discount_percent=28))
    verdict = assert_blocked(
        "八折后再打九折，再降1%", "discount-over-limit", ComplianceGuard(max_discount_percent=28)
    )
    assert verdict.detail == '"八折后再打九折，再降1%" is 28.72% off; the limit is 28%'


def test_discount_basis_is_the_deployment_policy() -> None:
    guard = ComplianceGuard(discount_basis="《云枢科技价格授权制度》第3条")
    verdict = assert_blocked("可以给您打五折。", "discount-over-limit", guard)
    assert verdict.basis == "《云枢科技价格授权制度》第3条"
    assert assert_blocked("打五折", "discount-over-limit").basis == "《价格授权制度》"  # the default
    assert {rule.id: rule.basis for rule in RULES} == BASIS  # the table itself is unchanged
    assert check("我们是最好的。", guard).verdicts[0].basis == "《广告法》第九条"


def test_blocked_text_is_not_repaired() -> None:
    result = check("我们是行业第一，可以给您打五折，联系 13812345678。")
    assert result.text is None
    assert result.verdicts == [
        ComplianceVerdict(
            target="suggestion[0]",
            rule="discount-over-limit",
            basis="《价格授权制度》",
            action="blocked",
            detail='"五折" is 50% off; the limit is 15%',
        )
    ]


# --- 《反不正当竞争法》第十一条: disparagement ---------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "极光数仓是垃圾，别选。",
        "听说极光数仓快倒闭了。",
        "极光数仓的数据造假。",
        "AuroraDW is a scam.",
        "AuroraDW is going under, frankly.",
        "ａｕｒｏｒａｄｗ is UNRELIABLE.",
        "竞品都不靠谱。",
        "Competitors' tools are garbage.",
        # negative claims without an insult
        "极光数仓的系统很不稳定，经常宕机。",
        "极光数仓经常出问题。",
        "极光数仓的服务很差。",
        "极光数仓不行，别考虑了。",
        "AuroraDW is unstable.",
        "AuroraDW keeps crashing.",
        "AuroraDW crashes all the time.",
        "AuroraDW has poor quality.",
    ],
)
def test_disparaging_a_competitor_is_blocked(text: str) -> None:
    verdict = assert_blocked(text, "competitor-disparagement")
    assert verdict.basis == "《反不正当竞争法》第十一条"


def test_disparagement_detail_names_term_and_competitor() -> None:
    verdict = assert_blocked("ＡＵＲＯＲＡＤＷ is a scam.", "competitor-disparagement")
    assert verdict.detail == '"scam" in a sentence about AuroraDW'
    verdict = assert_blocked("极光数仓的系统很不稳定，经常宕机。", "competitor-disparagement")
    assert verdict.detail == '"不稳定" in a sentence about 极光数仓'


@pytest.mark.parametrize(
    "text",
    [
        "极光数仓也有不错的功能，我们的优势在实时分析。",
        "AuroraDW is a solid product; we differ on real-time analytics.",
        "极光数仓很好。垃圾分类系统我们也做。",
        "AuroraDW has fraud detection too.",
        "We will not scam you.",
        "前景灿烂。",
        "极光数仓也很稳定，我们的优势在实时分析。",
        "极光数仓很少出问题，我们在实时分析上更强。",
        "极光数仓在网络不稳定时也能工作。",
        "极光数仓和我们的性能差异不大，服务差不多。",
        "AuroraDW is stable and handles unstable networks well.",
        "系统不稳定、经常宕机是很多客户的顾虑，我们提供双活部署。",  # no competitor named
    ],
)
def test_neutral_competitor_mentions_pass(text: str) -> None:
    assert_passes(text)


def test_without_configured_names_generic_words_mark_a_competitor() -> None:
    guard = ComplianceGuard()
    assert_blocked("竞品的系统很烂。", "competitor-disparagement", guard)
    assert_blocked("Our competitor is a fraud.", "competitor-disparagement", guard)
    assert_passes("极光数仓是垃圾。", guard)  # an unknown name is not recognised


def test_the_competitor_response_is_about_the_competitor_throughout() -> None:
    result = ComplianceGuard().check("competitor", "他们的系统不靠谱。")
    assert result.text is None
    assert result.verdicts[0].target == "competitor"
    assert result.verdicts[0].detail == '"不靠谱" in a sentence about the competitor'
    assert ComplianceGuard().check("suggestion[0]", "他们的系统不靠谱。").verdicts == []


def test_both_blocking_rules_are_reported() -> None:
    result = check("极光数仓是骗子，我们给您打五折。")
    assert result.text is None
    assert rules_of(result) == ["discount-over-limit", "competitor-disparagement"]


# --- 《个人信息保护法》第十三条: PII ------------------------------------------------------------


def test_pii_is_replaced_by_placeholders() -> None:
    result = check("请联系王经理 13812345678 或 wang@example.com。")
    assert result.text == "请联系王经理 [PHONE_1] 或 [EMAIL_1]。"
    assert result.verdicts == [
        ComplianceVerdict(
            target="suggestion[0]",
            rule="pii",
            basis="《个人信息保护法》第十三条",
            action="repaired",
            detail="email×1, phone×1",
        )
    ]


def test_pii_in_english_text() -> None:
    result = check("Call Ms Wang on +86 138 1234 5678 or write to wang@example.com.")
    assert result.text == "Call Ms Wang on [PHONE_1] or write to [EMAIL_1]."
    assert rules_of(result) == ["pii"]


def test_pii_and_wording_repairs_together() -> None:
    result = check("最好的方案，电话 +86 139-1234-5678。")
    assert result.text == "优秀的方案，电话 [PHONE_1]。"
    assert rules_of(result) == ["ad-law-superlative", "pii"]


def test_existing_placeholders_pass() -> None:
    assert_passes("我稍后给 [PHONE_1] 回电。")


# --- the guard as a whole ----------------------------------------------------------------


def test_target_is_copied_into_every_verdict() -> None:
    result = GUARD.check("suggestion[2]", "我们保证是最好的，电话 13812345678。")
    assert {v.target for v in result.verdicts} == {"suggestion[2]"}
    assert [(v.rule, v.basis, v.action) for v in result.verdicts] == [
        ("ad-law-superlative", "《广告法》第九条", "repaired"),
        ("guarantee", "《广告法》第四条", "repaired"),
        ("pii", "《个人信息保护法》第十三条", "repaired"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "我们是行业第一，保证100%满意，最好的方案 the best choice, guaranteed, 13812345678。",
        "顶尖、极致、无与伦比、首选、独家、世界一流、国家级的最强平台，零风险稳赚。",
        "The best, number one, world-class, risk-free, never fails, the cheapest, the only solution.",
    ],
)
def test_repaired_text_passes_a_second_check(text: str) -> None:
    first = check(text)
    assert first.text is not None and first.verdicts
    assert_passes(first.text)


def test_checks_run_again_after_a_repair() -> None:
    # "30% off100%" offers nothing; once 100% is repaired, "30% off" stands alone.
    assert check("30% off100%满意").text is None
    assert rules_of(check("30% off100%满意")) == ["discount-over-limit"]


def test_clean_text_passes_untouched() -> None:
    text = "理解您的预算压力。按三年总拥有成本看，MES Cloud 比一次性采购节省约 20% 的运维投入。"
    assert_passes(text)
    assert_passes("")


def test_deterministic() -> None:
    text = "我们是最好的，保证 100% 满意，联系 13812345678。"
    assert check(text) == check(text)
    assert ComplianceGuard().check("x", text) == ComplianceGuard().check("x", text)


# --- repairs only what stays a sentence (before -> after, or blocked) ---------------------

STAYS_A_SENTENCE = [
    ("我们是行业第一的 MES。", "我们是行业领先的 MES。"),
    ("这是最好的选择。", "这是优秀的选择。"),
    ("我们获得了国家级的认证。", "我们获得了认证。"),
    ("We are the best choice for you.", "We are a strong choice for you."),
    ("Our uptime is guaranteed.", "Our uptime is expected."),
    ("It is a risk-free rollout.", "It is a low-risk rollout."),
]
BLOCKED_NOT_REPAIRED = [
    # a quoted rule would become nonsense: 不得使用"""高端""理想"等用语
    ('宣传中不得使用"最高级""最佳"等用语。', "ad-law-superlative"),
    ("我们不说“行业第一”这类话。", "ad-law-superlative"),
    ("我们获得“国家级”认证。", "ad-law-superlative"),
    ('Never tell a customer we are "the best".', "ad-law-superlative"),
    ("We avoid words like 'guaranteed' in writing.", "guarantee"),
    ("我们不会写“保证”两个字。", "guarantee"),
]


@pytest.mark.parametrize(("before", "after"), STAYS_A_SENTENCE)
def test_a_repair_that_stays_a_sentence_is_shown(before: str, after: str) -> None:
    checked = GUARD.check("suggestion[0]", before)
    assert checked.text == after
    assert [v.action for v in checked.verdicts] == ["repaired"]


@pytest.mark.parametrize(("text", "rule"), BLOCKED_NOT_REPAIRED)
def test_a_repair_that_would_misquote_or_break_text_blocks_instead(text: str, rule: str) -> None:
    checked = GUARD.check("suggestion[0]", text)
    assert checked.text is None
    [verdict] = checked.verdicts
    assert (verdict.rule, verdict.action) == (rule, "blocked")
    assert "quoted" in verdict.detail or "broken" in verdict.detail


def test_a_repair_leaving_an_empty_quotation_is_blocked() -> None:
    checked = GUARD.check("suggestion[0]", "资质：“国家级”")
    assert checked.text is None
