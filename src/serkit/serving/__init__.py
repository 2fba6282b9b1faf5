"""The REST service and its web page (``serkit serve``), over one loaded predictor."""

from serkit.serving.app import LimitError, ServeLimits, TooManyUploads, UploadTimeout, create_app

__all__ = ["LimitError", "ServeLimits", "TooManyUploads", "UploadTimeout", "create_app"]
