// SPDX-License-Identifier: Apache-2.0
// DstackKms-compatible registry: KMS info, OS images, KMS measurements and devices, app registration and factory.
pragma solidity ^0.8.24;

import "./IAppAuth.sol";
import "./Owned.sol";
import "./App.sol";

contract KmsRegistry is Owned, IAppAuth, IERC165 {
    struct KmsInfo {
        bytes k256Pubkey;
        bytes caPubkey;
        bytes quote;
        bytes eventlog;
    }

    KmsInfo public kmsInfo;
    string public gatewayAppId;
    mapping(address => bool) public registeredApps;
    mapping(bytes32 => bool) public kmsAllowedAggregatedMrs;
    mapping(bytes32 => bool) public kmsAllowedDeviceIds;
    mapping(bytes32 => bool) public allowedOsImages;

    event AppRegistered(address appId);
    event AppDeployedViaFactory(address appId, address owner);
    event KmsInfoSet(bytes k256Pubkey, bytes caPubkey, bytes quote, bytes eventlog);
    event KmsAggregatedMrAdded(bytes32 mrAggregated);
    event KmsAggregatedMrRemoved(bytes32 mrAggregated);
    event KmsDeviceAdded(bytes32 deviceId);
    event KmsDeviceRemoved(bytes32 deviceId);
    event OsImageHashAdded(bytes32 osImageHash);
    event OsImageHashRemoved(bytes32 osImageHash);
    event GatewayAppIdSet(string gatewayAppId);

    constructor(address initialOwner) Owned(initialOwner) {}

    // --- KMS info: every setter emits the complete record so a watcher never merges partial updates.

    function setKmsInfo(KmsInfo calldata info) external onlyOwner {
        kmsInfo = info;
        _emitKmsInfo();
    }

    function setKmsQuote(bytes calldata quote) external onlyOwner {
        kmsInfo.quote = quote;
        _emitKmsInfo();
    }

    function setKmsEventlog(bytes calldata eventlog) external onlyOwner {
        kmsInfo.eventlog = eventlog;
        _emitKmsInfo();
    }

    function _emitKmsInfo() private {
        emit KmsInfoSet(kmsInfo.k256Pubkey, kmsInfo.caPubkey, kmsInfo.quote, kmsInfo.eventlog);
    }

    function setGatewayAppId(string calldata appId) external onlyOwner {
        if (keccak256(bytes(appId)) == keccak256(bytes(gatewayAppId))) return;
        gatewayAppId = appId;
        emit GatewayAppIdSet(appId);
    }

    // --- Apps

    /// Permissionless, as in dstack: registration only makes the app's own policy reachable; whether the
    /// address holds code is checked at decision time. Registering twice changes nothing and emits nothing.
    function registerApp(address app) public {
        if (app == address(0)) revert ZeroAddress();
        if (registeredApps[app]) return;
        registeredApps[app] = true;
        emit AppRegistered(app);
    }

    /// Deploys a new App owned by `appOwner` (any address) and registers it. Permissionless: the new app
    /// governs only itself, and only `appOwner` can change it afterwards.
    function deployAndRegisterApp(
        address appOwner,
        bool requireTcbUpToDate,
        bool allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash,
        uint64 upgradeDelay
    ) external returns (address appId) {
        App app = new App(appOwner, requireTcbUpToDate, allowAnyDevice, initialDeviceId, initialComposeHash, upgradeDelay);
        appId = address(app);
        registerApp(appId);
        emit AppDeployedViaFactory(appId, appOwner);
    }

    // --- Allow lists

    function addKmsAggregatedMr(bytes32 mrAggregated) external onlyOwner {
        if (kmsAllowedAggregatedMrs[mrAggregated]) return;
        kmsAllowedAggregatedMrs[mrAggregated] = true;
        emit KmsAggregatedMrAdded(mrAggregated);
    }

    function removeKmsAggregatedMr(bytes32 mrAggregated) external onlyOwner {
        if (!kmsAllowedAggregatedMrs[mrAggregated]) return;
        delete kmsAllowedAggregatedMrs[mrAggregated];
        emit KmsAggregatedMrRemoved(mrAggregated);
    }

    function addKmsDevice(bytes32 deviceId) external onlyOwner {
        if (kmsAllowedDeviceIds[deviceId]) return;
        kmsAllowedDeviceIds[deviceId] = true;
        emit KmsDeviceAdded(deviceId);
    }

    function removeKmsDevice(bytes32 deviceId) external onlyOwner {
        if (!kmsAllowedDeviceIds[deviceId]) return;
        delete kmsAllowedDeviceIds[deviceId];
        emit KmsDeviceRemoved(deviceId);
    }

    function addOsImageHash(bytes32 osImageHash) external onlyOwner {
        if (allowedOsImages[osImageHash]) return;
        allowedOsImages[osImageHash] = true;
        emit OsImageHashAdded(osImageHash);
    }

    function removeOsImageHash(bytes32 osImageHash) external onlyOwner {
        if (!allowedOsImages[osImageHash]) return;
        delete allowedOsImages[osImageHash];
        emit OsImageHashRemoved(osImageHash);
    }

    // --- Decisions (reason strings are dstack's, byte for byte)

    function isAppAllowed(AppBootInfo calldata bootInfo)
        external
        view
        override
        returns (bool isAllowed, string memory reason)
    {
        if (!registeredApps[bootInfo.appId]) {
            return (false, "App not registered");
        }
        if (!allowedOsImages[bootInfo.osImageHash]) {
            return (false, "OS image is not allowed");
        }
        if (bootInfo.appId.code.length == 0) {
            return (false, "App not deployed or invalid address");
        }
        // A registered contract that reverts or returns garbage makes this call revert: fail closed.
        return IAppAuth(bootInfo.appId).isAppAllowed(bootInfo);
    }

    function isKmsAllowed(AppBootInfo calldata bootInfo) external view returns (bool isAllowed, string memory reason) {
        if (!BootInfoChecks.isTcbUpToDate(bootInfo.tcbStatus)) {
            return (false, "TCB status is not up to date");
        }
        if (!allowedOsImages[bootInfo.osImageHash]) {
            return (false, "OS image is not allowed");
        }
        if (!kmsAllowedAggregatedMrs[bootInfo.mrAggregated]) {
            return (false, "Aggregated MR not allowed");
        }
        if (!kmsAllowedDeviceIds[bootInfo.deviceId]) {
            return (false, "KMS is not allowed to boot on this device");
        }
        return (true, "");
    }

    function supportsInterface(bytes4 interfaceId) external pure override returns (bool) {
        return interfaceId == type(IERC165).interfaceId || interfaceId == type(IAppAuth).interfaceId;
    }
}
