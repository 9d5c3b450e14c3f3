// SPDX-License-Identifier: Apache-2.0
// Per-app boot policy: allowed compose hashes (with an optional upgrade delay), devices and TCB rule.
pragma solidity ^0.8.24;

import "./IAppAuth.sol";
import "./Owned.sol";

/// One contract per app; its address is the app id. Deliberately has no immutables, so every instance
/// has the same runtime code and a watcher can recognise one by code hash (EVENTS.md, "Following apps").
contract App is Owned, IAppAuth, IAppAuthBasicManagement, IERC165 {
    /// 0 = not allowed; otherwise the block timestamp from which the hash is allowed.
    mapping(bytes32 => uint64) public composeHashEffectiveAt;
    mapping(bytes32 => bool) public allowedDeviceIds;
    bool public allowAnyDevice;
    bool public requireTcbUpToDate;
    uint64 public createdAtBlock;

    // The delay in force is _delay, or _nextDelay once block.timestamp >= _nextDelayAt (a pending decrease).
    uint64 private _delay;
    uint64 private _nextDelay;
    uint64 private _nextDelayAt;

    event ComposeHashAdded(bytes32 composeHash, uint64 effectiveAt);
    event ComposeHashRemoved(bytes32 composeHash);
    event DeviceAdded(bytes32 deviceId);
    event DeviceRemoved(bytes32 deviceId);
    event AllowAnyDeviceSet(bool allowAny);
    event TcbRequirementSet(bool requireUpToDate);
    event UpgradeDelaySet(uint64 delay, uint64 effectiveAt);

    /// Ten years: far beyond any sensible exit window, and keeps timestamp + delay well inside uint64.
    uint64 public constant MAX_UPGRADE_DELAY = 10 * 365 days;

    error UpgradeDelayTooLong(uint64 delay);

    /// The constructor emits the whole initial state (EVENTS.md, "Constructor order"). The initial compose
    /// hash is the deployment itself and is effective at once; only later additions wait for the delay.
    constructor(
        address initialOwner,
        bool requireTcbUpToDate_,
        bool allowAnyDevice_,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash,
        uint64 upgradeDelay_
    ) Owned(initialOwner) {
        if (upgradeDelay_ > MAX_UPGRADE_DELAY) revert UpgradeDelayTooLong(upgradeDelay_);
        createdAtBlock = uint64(block.number);
        requireTcbUpToDate = requireTcbUpToDate_;
        emit TcbRequirementSet(requireTcbUpToDate_);
        allowAnyDevice = allowAnyDevice_;
        emit AllowAnyDeviceSet(allowAnyDevice_);
        _delay = upgradeDelay_;
        emit UpgradeDelaySet(upgradeDelay_, uint64(block.timestamp));
        if (initialDeviceId != bytes32(0)) {
            allowedDeviceIds[initialDeviceId] = true;
            emit DeviceAdded(initialDeviceId);
        }
        if (initialComposeHash != bytes32(0)) {
            composeHashEffectiveAt[initialComposeHash] = uint64(block.timestamp);
            emit ComposeHashAdded(initialComposeHash, uint64(block.timestamp));
        }
    }

    /// dstack's DstackApp reports 2; kept for tools that check it.
    function version() external pure returns (uint256) {
        return 2;
    }

    function upgradeDelay() public view returns (uint64) {
        if (_nextDelayAt != 0 && block.timestamp >= _nextDelayAt) return _nextDelay;
        return _delay;
    }

    /// True only once the hash is effective, matching isAppAllowed (dstack-compatible getter name).
    function allowedComposeHashes(bytes32 composeHash) public view returns (bool) {
        uint64 effectiveAt = composeHashEffectiveAt[composeHash];
        return effectiveAt != 0 && block.timestamp >= effectiveAt;
    }

    function isAppAllowed(AppBootInfo calldata bootInfo)
        external
        view
        override
        returns (bool isAllowed, string memory reason)
    {
        if (requireTcbUpToDate && !BootInfoChecks.isTcbUpToDate(bootInfo.tcbStatus)) {
            return (false, "TCB status is not up to date");
        }
        if (!allowedComposeHashes(bootInfo.composeHash)) {
            return (false, "Compose hash not allowed");
        }
        if (!allowAnyDevice && !allowedDeviceIds[bootInfo.deviceId]) {
            return (false, "Device not allowed");
        }
        return (true, "");
    }

    /// Schedules the hash upgradeDelay() seconds ahead; re-adding reschedules (latest event wins).
    function addComposeHash(bytes32 composeHash) external override onlyOwner {
        uint64 effectiveAt = uint64(block.timestamp) + upgradeDelay();
        if (composeHashEffectiveAt[composeHash] == effectiveAt) return;
        composeHashEffectiveAt[composeHash] = effectiveAt;
        emit ComposeHashAdded(composeHash, effectiveAt);
    }

    /// Immediate: revoking must never wait.
    function removeComposeHash(bytes32 composeHash) external override onlyOwner {
        if (composeHashEffectiveAt[composeHash] == 0) return;
        delete composeHashEffectiveAt[composeHash];
        emit ComposeHashRemoved(composeHash);
    }

    function addDevice(bytes32 deviceId) external override onlyOwner {
        if (allowedDeviceIds[deviceId]) return;
        allowedDeviceIds[deviceId] = true;
        emit DeviceAdded(deviceId);
    }

    function removeDevice(bytes32 deviceId) external override onlyOwner {
        if (!allowedDeviceIds[deviceId]) return;
        delete allowedDeviceIds[deviceId];
        emit DeviceRemoved(deviceId);
    }

    function setAllowAnyDevice(bool allowAny) external onlyOwner {
        if (allowAnyDevice == allowAny) return;
        allowAnyDevice = allowAny;
        emit AllowAnyDeviceSet(allowAny);
    }

    function setRequireTcbUpToDate(bool requireUpToDate) external onlyOwner {
        if (requireTcbUpToDate == requireUpToDate) return;
        requireTcbUpToDate = requireUpToDate;
        emit TcbRequirementSet(requireUpToDate);
    }

    /// An increase applies at once; a decrease only after the delay now in force, so the owner cannot
    /// shorten users' exit window and push a hash through in one step. Replaces any pending decrease.
    function setUpgradeDelay(uint64 newDelay) external onlyOwner {
        if (newDelay > MAX_UPGRADE_DELAY) revert UpgradeDelayTooLong(newDelay);
        if (_nextDelayAt == 0 && newDelay == _delay) return;
        uint64 current = upgradeDelay();
        uint64 effectiveAt = uint64(block.timestamp);
        if (newDelay >= current) {
            _delay = newDelay;
            _nextDelay = 0;
            _nextDelayAt = 0;
        } else {
            effectiveAt += current;
            _delay = current;
            _nextDelay = newDelay;
            _nextDelayAt = effectiveAt;
        }
        emit UpgradeDelaySet(newDelay, effectiveAt);
    }

    function supportsInterface(bytes4 interfaceId) external pure override returns (bool) {
        return interfaceId == type(IERC165).interfaceId || interfaceId == type(IAppAuth).interfaceId
            || interfaceId == type(IAppAuthBasicManagement).interfaceId;
    }
}
