"""Test doubles that speak real wire protocols, so the real SDKs can be tested offline."""

from tests.fakes.fake_llm import Directive, FakeLLMServer, RecordedRequest

__all__ = ["Directive", "FakeLLMServer", "RecordedRequest"]
