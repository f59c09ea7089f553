// Command flannel is the CNI plugin the kubeadm role's flannel pod network calls: it reads the
// subnet flanneld leased for this node (/run/flannel/subnet.env) and hands the pod to a delegate
// plugin (the reference "bridge" with "host-local" addresses from that subnet). Written for this
// project: the upstream flannel-io/cni-plugin module cannot be had here (the Go module proxy
// refuses it). Built by scripts/build-node-artifacts.sh; IPv4 only.
//
// Network configuration (one entry of a conflist):
//
//	{"type": "flannel", "delegate": {"hairpinMode": true, "isDefaultGateway": true}}
//
// Optional keys: "subnetFile" (default /run/flannel/subnet.env) and "dataDir" (default
// /var/lib/cni/flannel), where the delegate configuration of each container is kept so that DEL
// and CHECK hand the delegate exactly what ADD did, even after flanneld restarted.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

const (
	defaultSubnetFile = "/run/flannel/subnet.env"
	defaultDataDir    = "/var/lib/cni/flannel"
)

// netConf is the plugin's configuration as the runtime passes it on stdin.
type netConf struct {
	types.NetConf
	SubnetFile string                 `json:"subnetFile"`
	DataDir    string                 `json:"dataDir"`
	Delegate   map[string]interface{} `json:"delegate"`
}

// lease is what flanneld wrote for this node.
type lease struct {
	network *net.IPNet // the whole pod network (FLANNEL_NETWORK)
	subnet  *net.IPNet // this node's part of it (FLANNEL_SUBNET), gateway address included
	mtu     int
	ipMasq  bool // flanneld masquerades traffic leaving the pod network itself
}

func loadConf(args *skel.CmdArgs) (*netConf, error) {
	conf := &netConf{SubnetFile: defaultSubnetFile, DataDir: defaultDataDir}
	if err := json.Unmarshal(args.StdinData, conf); err != nil {
		return nil, fmt.Errorf("flannel: cannot parse the network configuration: %w", err)
	}
	if conf.Delegate == nil {
		conf.Delegate = map[string]interface{}{}
	}
	return conf, nil
}

func readLease(path string) (*lease, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("flannel: %s is not there yet (is flanneld running on this node?): %w", path, err)
	}
	defer f.Close()
	values := map[string]string{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if key, value, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			values[strings.TrimSpace(key)] = strings.TrimSpace(value)
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("flannel: reading %s: %w", path, err)
	}
	l := &lease{}
	if _, l.network, err = net.ParseCIDR(values["FLANNEL_NETWORK"]); err != nil {
		return nil, fmt.Errorf("flannel: %s: FLANNEL_NETWORK %q: %w", path, values["FLANNEL_NETWORK"], err)
	}
	ip, subnet, err := net.ParseCIDR(values["FLANNEL_SUBNET"])
	if err != nil {
		return nil, fmt.Errorf("flannel: %s: FLANNEL_SUBNET %q: %w", path, values["FLANNEL_SUBNET"], err)
	}
	// flanneld writes the subnet with the gateway's address (10.42.1.1/24): keep the network part.
	l.subnet = &net.IPNet{IP: ip.Mask(subnet.Mask), Mask: subnet.Mask}
	if l.mtu, err = strconv.Atoi(values["FLANNEL_MTU"]); err != nil || l.mtu <= 0 {
		return nil, fmt.Errorf("flannel: %s: FLANNEL_MTU %q is not a positive number", path, values["FLANNEL_MTU"])
	}
	l.ipMasq = values["FLANNEL_IPMASQ"] == "true"
	return l, nil
}

// delegateConf is the configuration handed to the delegate: the user's delegate keys, with the
// name, version, MTU, masquerading and addresses taken from the network and the lease.
func delegateConf(conf *netConf, l *lease) ([]byte, string, error) {
	d := map[string]interface{}{}
	for k, v := range conf.Delegate {
		d[k] = v
	}
	if _, ok := d["type"]; !ok {
		d["type"] = "bridge"
	}
	kind, ok := d["type"].(string)
	if !ok || kind == "" {
		return nil, "", errors.New("flannel: delegate.type must be a plugin name")
	}
	d["name"] = conf.Name
	d["cniVersion"] = conf.CNIVersion
	if _, ok := d["mtu"]; !ok {
		d["mtu"] = l.mtu
	}
	// Traffic leaving the pod network is masqueraded once: by flanneld when it does, else by the bridge.
	if _, ok := d["ipMasq"]; !ok {
		d["ipMasq"] = !l.ipMasq
	}
	if kind == "bridge" {
		if _, ok := d["isGateway"]; !ok {
			d["isGateway"] = true
		}
	}
	ipam := map[string]interface{}{
		"type":   "host-local",
		"ranges": [][]map[string]string{{{"subnet": l.subnet.String()}}},
	}
	if gw, _ := d["isDefaultGateway"].(bool); !gw {
		ipam["routes"] = []map[string]string{{"dst": l.network.String()}}
	}
	if userIPAM, ok := d["ipam"].(map[string]interface{}); ok {
		for k, v := range userIPAM {
			ipam[k] = v
		}
	}
	d["ipam"] = ipam
	out, err := json.Marshal(d)
	return out, kind, err
}

func savedPath(conf *netConf, args *skel.CmdArgs) string {
	return filepath.Join(conf.DataDir, args.ContainerID)
}

func cmdAdd(args *skel.CmdArgs) error {
	conf, err := loadConf(args)
	if err != nil {
		return err
	}
	l, err := readLease(conf.SubnetFile)
	if err != nil {
		return err
	}
	delegate, kind, err := delegateConf(conf, l)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(conf.DataDir, 0o700); err != nil {
		return fmt.Errorf("flannel: %w", err)
	}
	if err := os.WriteFile(savedPath(conf, args), delegate, 0o600); err != nil {
		return fmt.Errorf("flannel: keeping the delegate configuration: %w", err)
	}
	result, err := invoke.DelegateAdd(context.TODO(), kind, delegate, nil)
	if err != nil {
		return fmt.Errorf("flannel: delegate %s: %w", kind, err)
	}
	return types.PrintResult(result, conf.CNIVersion)
}

// saved reads the delegate configuration ADD kept for this container; nil when there is none.
func saved(conf *netConf, args *skel.CmdArgs) ([]byte, string, error) {
	data, err := os.ReadFile(savedPath(conf, args))
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("flannel: %w", err)
	}
	var d struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &d); err != nil || d.Type == "" {
		return nil, "", fmt.Errorf("flannel: %s holds no delegate configuration", savedPath(conf, args))
	}
	return data, d.Type, nil
}

func cmdDel(args *skel.CmdArgs) error {
	conf, err := loadConf(args)
	if err != nil {
		return err
	}
	delegate, kind, err := saved(conf, args)
	if err != nil || delegate == nil {
		return err // nothing was added for this container: DEL has nothing to undo
	}
	if err := invoke.DelegateDel(context.TODO(), kind, delegate, nil); err != nil {
		return fmt.Errorf("flannel: delegate %s: %w", kind, err)
	}
	if err := os.Remove(savedPath(conf, args)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("flannel: %w", err)
	}
	return nil
}

func cmdCheck(args *skel.CmdArgs) error {
	conf, err := loadConf(args)
	if err != nil {
		return err
	}
	delegate, kind, err := saved(conf, args)
	if err != nil {
		return err
	}
	if delegate == nil {
		return fmt.Errorf("flannel: no network was added for container %s", args.ContainerID)
	}
	return invoke.DelegateCheck(context.TODO(), kind, delegate, nil)
}

// cmdStatus: ready once flanneld has leased this node a subnet.
func cmdStatus(args *skel.CmdArgs) error {
	conf, err := loadConf(args)
	if err != nil {
		return err
	}
	_, err = readLease(conf.SubnetFile)
	return err
}

// Set by the build (-ldflags -X main.buildVersion=...).
var buildVersion = "unknown"

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{Add: cmdAdd, Del: cmdDel, Check: cmdCheck, Status: cmdStatus},
		version.All, "CNI plugin flannel (inference-platform) "+buildVersion)
}
