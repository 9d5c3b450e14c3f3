// SPDX-License-Identifier: Apache-2.0
// The boot-authorisation interface shared with dstack's KMS (same struct layout, selector and interface id).
pragma solidity ^0.8.24;

interface IERC165 {
    function supportsInterface(bytes4 interfaceId) external view returns (bool);
}

interface IAppAuth {
    /// Field order and types are dstack's IAppAuth.AppBootInfo: the ABI encoding, and so the selector
    /// 0x1e079198 of isAppAllowed, depend on them.
    struct AppBootInfo {
        address appId;
        bytes32 composeHash;
        address instanceId;
        bytes32 deviceId;
        bytes32 mrAggregated;
        bytes32 mrSystem;
        bytes32 osImageHash;
        string tcbStatus;
        string[] advisoryIds;
    }

    /// Returns (true, "") or (false, reason) with dstack's reason strings.
    function isAppAllowed(AppBootInfo calldata bootInfo) external view returns (bool isAllowed, string memory reason);
}

/// dstack's IAppAuthBasicManagement (interface id 0x8fd37527). Our event for an added compose hash also
/// carries the time it becomes effective, so the events are ours (see EVENTS.md); the functions match.
interface IAppAuthBasicManagement {
    function addComposeHash(bytes32 composeHash) external;
    function removeComposeHash(bytes32 composeHash) external;
    function addDevice(bytes32 deviceId) external;
    function removeDevice(bytes32 deviceId) external;
}

library BootInfoChecks {
    /// The only TCB status dstack treats as current.
    function isTcbUpToDate(string calldata tcbStatus) internal pure returns (bool) {
        return keccak256(bytes(tcbStatus)) == keccak256("UpToDate");
    }
}
