"""WeCom callback crypto and XML, checked against Tencent's algorithm implemented in the test."""

from __future__ import annotations

import base64

import pytest
from wecom_fakes import AES_KEY, CORP_ID, TOKEN, card_event_xml, tencent_encrypt, tencent_signature, text_xml

from connectors.wecom import CardEvent, TextMessage, WeComCrypto, WeComRequestError, parse_inbound, signature
from connectors.wecom._messages import parse_envelope

NOW = 1_790_000_000


@pytest.fixture
def crypto() -> WeComCrypto:
    return WeComCrypto(TOKEN, AES_KEY, CORP_ID, clock=lambda: NOW)


def test_signature_is_tencents() -> None:
    assert signature("t", "2", "n", "e") == tencent_signature("t", "2", "n", "e")


def test_url_verification_returns_the_plain_echostr(crypto: WeComCrypto) -> None:
    echo = tencent_encrypt(b"1616140317555161061")
    sig = tencent_signature(TOKEN, str(NOW), "abc", echo)
    assert crypto.verify_url(sig, str(NOW), "abc", echo) == "1616140317555161061"
    assert crypto.verify_url(sig.upper(), str(NOW), "abc", echo) == "1616140317555161061"


def test_chinese_message_round_trips(crypto: WeComCrypto) -> None:
    inner = text_xml("rep.wang", "客户说：价格太高了", "1001", created=NOW)
    enc = tencent_encrypt(inner)
    plain = crypto.decrypt(tencent_signature(TOKEN, str(NOW), "n", enc), str(NOW), "n", enc)
    message = parse_inbound(plain)
    assert isinstance(message, TextMessage)
    assert message.content == "客户说：价格太高了" and message.msg_id == "1001" and message.user == "rep.wang"


@pytest.mark.parametrize("size", [0, 1, 11, 12, 13, 27, 28, 29, 200, 5000])
def test_every_padding_length_decrypts(crypto: WeComCrypto, size: int) -> None:
    message = "中a" * size
    enc = tencent_encrypt(message.encode())
    assert crypto.decrypt(tencent_signature(TOKEN, str(NOW), "n", enc), str(NOW), "n", enc) == message


def refused(crypto: WeComCrypto, sig: str, ts: str, nonce: str, enc: str) -> WeComRequestError:
    with pytest.raises(WeComRequestError) as info:
        crypto.decrypt(sig, ts, nonce, enc)
    return info.value


def test_bad_signature_is_403(crypto: WeComCrypto) -> None:
    enc = tencent_encrypt(b"<xml/>")
    assert refused(crypto, "0" * 40, str(NOW), "n", enc).status == 403
    assert refused(crypto, tencent_signature("other", str(NOW), "n", enc), str(NOW), "n", enc).status == 403


def test_stale_and_future_timestamps_are_refused(crypto: WeComCrypto) -> None:
    enc = tencent_encrypt(b"<xml/>")
    for stamp in (str(NOW - 301), str(NOW + 301), "12abc"):
        error = refused(crypto, tencent_signature(TOKEN, stamp, "n", enc), stamp, "n", enc)
        assert error.status in (400, 403)
    ok = str(NOW - 299)
    assert crypto.decrypt(tencent_signature(TOKEN, ok, "n", enc), ok, "n", enc) == "<xml/>"


def test_wrong_corp_id_is_403(crypto: WeComCrypto) -> None:
    enc = tencent_encrypt(b"<xml/>", corp_id="wwOTHERcorp")
    error = refused(crypto, tencent_signature(TOKEN, str(NOW), "n", enc), str(NOW), "n", enc)
    assert error.status == 403 and "corp id" in str(error)


@pytest.mark.parametrize(
    "payload",
    [
        "not base64!!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(b"\0" * 32).decode(),
        base64.b64encode(b"x" * 33).decode(),
    ],
)
def test_bad_base64_or_garbage_ciphertext_is_400(crypto: WeComCrypto, payload: str) -> None:
    error = refused(crypto, tencent_signature(TOKEN, str(NOW), "n", payload), str(NOW), "n", payload)
    assert 400 <= error.status < 500


def test_non_utf8_plaintext_is_400(crypto: WeComCrypto) -> None:
    enc = tencent_encrypt(b"<xml>\xff\xfe</xml>")
    assert refused(crypto, tencent_signature(TOKEN, str(NOW), "n", enc), str(NOW), "n", enc).status == 400


def test_oversized_payload_and_params_are_refused(crypto: WeComCrypto) -> None:
    huge = "A" * 100_000
    assert refused(crypto, tencent_signature(TOKEN, str(NOW), "n", huge), str(NOW), "n", huge).status == 400
    enc = tencent_encrypt(b"<xml/>")
    assert refused(crypto, "a" * 500, str(NOW), "n", enc).status == 400


def test_an_invalid_aes_key_is_a_clear_config_error() -> None:
    with pytest.raises(ValueError, match="43-character EncodingAESKey"):
        WeComCrypto(TOKEN, "short", CORP_ID)


def test_card_event_is_parsed_with_its_selection() -> None:
    event = parse_inbound(
        card_event_xml("rep.li", "adopt:ss-0123456789abcdef", "ss-0123456789abcdef", pick="2").decode()
    )
    assert isinstance(event, CardEvent)
    assert event.event_key == "adopt:ss-0123456789abcdef" and event.selected == {"pick": ["2"]}
    assert event.response_code == "rc-42"
    again = parse_inbound(
        card_event_xml(
            "rep.li", "adopt:ss-0123456789abcdef", "ss-0123456789abcdef", pick="2", created=event.created
        ).decode()
    )
    assert isinstance(again, CardEvent) and again.dedup_key == event.dedup_key


def test_other_kinds_are_ignored() -> None:
    image = "<xml><FromUserName>u</FromUserName><MsgType>image</MsgType><MsgId>1</MsgId></xml>"
    enter = "<xml><FromUserName>u</FromUserName><MsgType>event</MsgType><Event>enter_agent</Event></xml>"
    assert parse_inbound(image) is None and parse_inbound(enter) is None


BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    "<xml><Encrypt>&lol2;</Encrypt></xml>"
)
EXTERNAL = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>'


@pytest.mark.parametrize(
    "body", [BOMB, EXTERNAL, "<xml><Encrypt>abc</xml>", "<html/>", "<xml></xml>", "\xff\xfe"]
)
def test_bad_envelopes_are_refused(body: str) -> None:
    with pytest.raises(WeComRequestError) as info:
        parse_envelope(body.encode("latin-1") if body.startswith("\xff") else body.encode())
    assert info.value.status == 400


def test_entities_in_the_decrypted_message_are_refused() -> None:
    with pytest.raises(WeComRequestError, match="DTD"):
        parse_inbound(BOMB.replace("Encrypt", "Content"))


def test_invalid_fields_in_the_message_name_the_field() -> None:
    with pytest.raises(WeComRequestError, match="user"):
        parse_inbound("<xml><MsgType>text</MsgType><MsgId>1</MsgId><CreateTime>1</CreateTime></xml>")
