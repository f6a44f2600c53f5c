"""SMS providers: the interface and the one real implementation, Tencent Cloud SMS through its
official SDK (``tencentcloud-sdk-python-sms``, API version 2021-01-11, TC3-HMAC-SHA256 signed).

Why Tencent (docs/notifications.md, "SMS"): its SDK needs nothing but ``requests`` (Aliyun's
current ``alibabacloud-dysmsapi20170525`` pulls in aiohttp, APScheduler, the credentials chain
and ~25 packages), the endpoint and scheme are plain configuration (``HttpProfile(endpoint=,
protocol=)``) so the test's fake provider is reached without patching, and its TC3 signature is
documented step by step, so the fake verifies it with the same secret.

A provider answers each send with a ``SendResult``: the HTTP-like status ``rules.judge`` decides
on (2xx sent; 429 / 5xx / None retry; 410 gone; other 4xx failed), the provider's serial number
(``SerialNo``: the status report's ``sid``) and its billed segments (``Fee``).
"""

from __future__ import annotations

import json
import logging
from typing import NamedTuple, Protocol

from gridapp.notifications.sms import rules

log = logging.getLogger("gridapp.notifications.sms")


class SendResult(NamedTuple):
    status_code: int | None
    code: str = ""  # the provider's own code ("Ok", "LimitExceeded....")
    error: str = ""
    serial: str = ""
    fee: int = 0  # segments the provider billed (0: unknown)
    retry_after: str | None = None


class Provider(Protocol):
    name: str

    def send(self, phone: str, template_id: str, params: list[str], sign: str) -> SendResult: ...


MAX_NUMBERS = 200  # SendSms takes up to 200 numbers (same template and parameters) per request


class TencentProvider:
    """``SendSms``: up to ``MAX_NUMBERS`` numbers with the same template and parameters per
    call; the answer's ``SendStatusSet`` gives each number its own outcome."""

    name = "tencent"

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        app_id: str,
        *,
        region: str = "ap-guangzhou",
        endpoint: str = "sms.tencentcloudapi.com",
        protocol: str = "https",
        timeout: float = 10.0,
    ) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        http = HttpProfile(
            protocol=protocol,
            endpoint=endpoint,
            reqTimeout=max(1, int(timeout)),
            keepAlive=True,
        )
        # No region breaker: it would switch to another endpoint than the configured one.
        profile = ClientProfile(httpProfile=http, disable_region_breaker=True)
        self.app_id = app_id
        self.client = sms_client.SmsClient(
            credential.Credential(secret_id, secret_key), region, profile
        )

    def send(self, phone: str, template_id: str, params: list[str], sign: str) -> SendResult:
        return self.send_many([phone], template_id, params, sign)[0]

    def send_many(
        self, phones: list[str], template_id: str, params: list[str], sign: str
    ) -> list[SendResult]:
        """One request for ``phones`` (at most ``MAX_NUMBERS``); a result per number, in order.
        A request-level error (signature, template, network) is every number's result; a
        per-number code (invalid, blacklisted, rate-limited number) only that number's."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.sms.v20210111 import models

        if not 0 < len(phones) <= MAX_NUMBERS:
            raise ValueError(f"SendSms takes 1 to {MAX_NUMBERS} numbers, not {len(phones)}")
        req = models.SendSmsRequest()
        req.PhoneNumberSet = list(phones)
        req.SmsSdkAppId = self.app_id
        req.TemplateId = template_id
        req.SignName = sign
        req.TemplateParamSet = list(params)
        try:
            resp = self.client.SendSms(req)
        except TencentCloudSDKException as exc:
            code = exc.get_code() or "ClientNetworkError"
            status, retry_after = rules.status_for(code)
            one = SendResult(status, code, f"{code}: {exc.get_message()}"[:500], "", 0, retry_after)
            return [one] * len(phones)
        except Exception as exc:  # noqa: BLE001  (a malformed answer: treated as no answer)
            one = SendResult(None, "ClientNetworkError", f"{type(exc).__name__}: {exc}"[:500])
            return [one] * len(phones)
        by_phone = {}
        for s in resp.SendStatusSet or []:
            code = s.Code or ""
            status, retry_after = rules.status_for(code)
            error = "" if status == 200 else f"{code}: {s.Message or ''}"[:500]
            by_phone[s.PhoneNumber] = SendResult(
                status, code, error, s.SerialNo or "", int(s.Fee or 0), retry_after
            )
        if not by_phone:
            missing = SendResult(503, "EmptyResponse", json.dumps(resp._serialize())[:500])
        else:
            missing = SendResult(503, "NoStatus", "no SendStatus for this number")
        return [by_phone.get(p, missing) for p in phones]
