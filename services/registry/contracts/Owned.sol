// SPDX-License-Identifier: Apache-2.0
// Minimal two-step ownership: the owner may be any address, including a multisig or DAO contract.
pragma solidity ^0.8.24;

abstract contract Owned {
    address private _owner;
    address private _pendingOwner;

    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error NotOwner(address caller);
    error NotPendingOwner(address caller);
    error ZeroAddress();

    constructor(address initialOwner) {
        if (initialOwner == address(0)) revert ZeroAddress();
        _owner = initialOwner;
        emit OwnershipTransferred(address(0), initialOwner);
    }

    modifier onlyOwner() {
        if (msg.sender != _owner) revert NotOwner(msg.sender);
        _;
    }

    function owner() public view returns (address) {
        return _owner;
    }

    function pendingOwner() public view returns (address) {
        return _pendingOwner;
    }

    /// Step 1: name the next owner. Nothing changes until it calls acceptOwnership, so a typo cannot
    /// lock the contract; naming address(0) cancels a pending transfer.
    function transferOwnership(address newOwner) external onlyOwner {
        if (_pendingOwner == newOwner) return;
        _pendingOwner = newOwner;
        emit OwnershipTransferStarted(_owner, newOwner);
    }

    /// Step 2: the named address takes over (a contract owner calls this from its own execution).
    function acceptOwnership() external {
        if (msg.sender != _pendingOwner) revert NotPendingOwner(msg.sender);
        address previous = _owner;
        _owner = msg.sender;
        _pendingOwner = address(0);
        emit OwnershipTransferred(previous, msg.sender);
    }
}
