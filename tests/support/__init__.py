"""Helpers the whole suite shares, so each exists once."""
