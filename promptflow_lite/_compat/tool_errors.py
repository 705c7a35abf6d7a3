"""promptflow-tools' exception classes (``promptflow.tools.exception``) that custom tools raise or catch.

The ones promptflow_lite's own tools raise come from where they are raised (the alias table maps
them); the rest are defined here with promptflow-tools' hierarchy and keyword arguments.
"""

from __future__ import annotations

from promptflow_lite._compat.contracts import SystemErrorException, UserErrorException


class ToolValidationError(UserErrorException):
    """A tool's input or configuration is invalid."""


class ChatAPIInvalidFunctions(ToolValidationError):
    pass


class ChatAPIInvalidTools(ToolValidationError):
    pass


class ChatAPIFunctionRoleInvalidFormat(ToolValidationError):
    pass


class ChatAPIToolRoleInvalidFormat(ToolValidationError):
    pass


class ListDeploymentsError(UserErrorException):
    pass


class ParseConnectionError(ListDeploymentsError):
    pass


class AzureContentSafetyInputValueError(UserErrorException):
    pass


class AzureContentSafetySystemError(SystemErrorException):
    pass


class SerpAPIUserError(UserErrorException):
    pass


class SerpAPISystemError(SystemErrorException):
    pass


class OpenModelLLMUserError(UserErrorException):
    pass


class OpenModelLLMOnlineEndpointError(UserErrorException):
    pass


class OpenModelLLMKeyValidationError(ToolValidationError):
    pass
